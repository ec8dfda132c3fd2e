//! Fuel metering in generated code (`CompilerOptions::consume_fuel`).
//!
//! The store context holds `fuel_consumed`: fuel used minus fuel given,
//! negative while fuel remains. The translator adds up the cost of the
//! instructions of a straight-line stretch at compile time and charges the
//! sum with one load/add/store just before the instruction that ends the
//! stretch (a branch, call, return, `if`, `else`, `end` or loop entry), so
//! the counter is exact whenever control leaves the stretch or the host
//! runs. Function entries and loop headers then check it:
//!
//! ```text
//! fuel_consumed += <cost of the stretch>      ; at the stretch's end
//! if fuel_consumed > 0 { trap OutOfFuel }     ; function entry, loop header
//! ```
//!
//! Every instruction costs 1 except `nop`, `drop`, `block`, `loop`,
//! `unreachable`, `return`, `else` and `end`, which cost 0 (wasmtime's
//! cost model), so the same program consumes the same fuel in both.

use crate::env::Region;
use crate::translate::Translator;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData as MemFlags, types::I64};
use weft_environ::wasmparser::Operator;
use weft_environ::{Trap, store_ctx, vmctx};

/// The fuel cost of one instruction.
fn cost(op: &Operator<'_>) -> i64 {
    use Operator::*;
    match op {
        Nop | Drop | Block { .. } | Loop { .. } | Unreachable | Return | Else | End => 0,
        _ => 1,
    }
}

/// Whether `op` ends a straight-line stretch: control may leave it (or the
/// host may look at the counter) right after.
fn ends_stretch(op: &Operator<'_>) -> bool {
    use Operator::*;
    matches!(
        op,
        Loop { .. }
            | If { .. }
            | Else
            | End
            | Br { .. }
            | BrIf { .. }
            | BrTable { .. }
            | BrOnNull { .. }
            | BrOnNonNull { .. }
            | Return
            | Unreachable
            | Call { .. }
            | CallIndirect { .. }
            | CallRef { .. }
            | ReturnCall { .. }
            | ReturnCallIndirect { .. }
            | ReturnCallRef { .. }
            | MemoryGrow { .. }
            | TableGrow { .. }
            | Throw { .. }
            | ThrowRef
            | Rethrow { .. }
            | Catch { .. }
            | CatchAll
            | Delegate { .. }
    )
}

impl Translator<'_, '_> {
    /// Accounts for `op` before it is translated; charges the pending cost
    /// when `op` ends a stretch.
    pub(crate) fn charge_fuel(&mut self, op: &Operator<'_>) {
        let Some(pending) = self.fuel else { return };
        if !self.reachable {
            // Unreachable code costs nothing; every way into unreachable
            // code ended a stretch, so nothing is pending.
            debug_assert_eq!(pending, 0);
            return;
        }
        let pending = pending + cost(op);
        if ends_stretch(op) && pending != 0 {
            let store = self.env.vmctx_load(&mut self.b, vmctx::STORE_CTX);
            let flags = fuel_flags();
            let used = self
                .b
                .ins()
                .load(I64, flags, store, store_ctx::FUEL_CONSUMED as i32);
            let used = self.b.ins().iadd_imm_s(used, pending);
            self.b
                .ins()
                .store(flags, used, store, store_ctx::FUEL_CONSUMED as i32);
            self.fuel = Some(0);
        } else {
            self.fuel = Some(pending);
        }
    }

    /// Traps with `OutOfFuel` if the store's fuel is used up (function
    /// entry and loop headers).
    pub(crate) fn fuel_check(&mut self) {
        if self.fuel.is_none() {
            return;
        }
        let store = self.env.vmctx_load(&mut self.b, vmctx::STORE_CTX);
        let used = self
            .b
            .ins()
            .load(I64, fuel_flags(), store, store_ctx::FUEL_CONSUMED as i32);
        let out = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThan, used, 0);
        self.env.trapnz(&mut self.b, out, Trap::OutOfFuel);
    }
}

/// The counter is only touched by fuel code and the host (across calls,
/// which are fences), so it gets its own alias region.
fn fuel_flags() -> MemFlags {
    Region::Fuel.flags(MemFlags::trusted())
}
