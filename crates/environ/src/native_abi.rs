//! Which host function types get a native-ABI wasm-to-host call.
//!
//! A `Func::wrap` closure whose parameters and results are all plain
//! numbers is called by the wasm-to-host trampoline directly, in the
//! platform's C calling convention, with its arguments in registers:
//!
//! ```text
//! extern "C" fn(host_ctx, caller_vmctx, a1, ..., an) -> R
//!   R = u64 ok                       (no result)
//!   R = #[repr(C)] { value, ok: u64 } (one result)
//!       x86_64 System V: an integer value in rax and ok in rdx;
//!       a float value in xmm0 and ok in rax,
//!       exactly as Cranelift returns the pair (value, ok).
//! ```
//!
//! `ok` is 0 when the host function failed (its error or panic is parked
//! in the store, as with the `HostCall` builtin), 1 otherwise. Every other
//! type (vectors, references, several results) and every closure over
//! `Val`s goes through the value array and the `HostCall` builtin. Both
//! sides (the trampoline compiler and the runtime's `Func::wrap`) decide
//! with [`native_host_abi`], so they cannot disagree.

use wasmparser::{FuncType, ValType};

/// Whether host functions of type `ty` may have a native-ABI entry on
/// this target.
pub fn native_host_abi(ty: &FuncType) -> bool {
    let plain =
        |t: &ValType| matches!(t, ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64);
    cfg!(target_arch = "x86_64")
        && ty.params().iter().all(plain)
        && ty.results().len() <= 1
        && ty.results().iter().all(plain)
}

/// Whether wasm code may call a host function of type `ty` through its
/// native-ABI entry directly, with no trampoline between them: the type
/// has a native-ABI entry ([`native_host_abi`]) and every argument,
/// including the two context pointers, travels in a register (System V:
/// six integer and eight vector registers), so the caller's stack pointer
/// at the call is exactly where the call pushes its return address.
pub fn native_host_direct(ty: &FuncType) -> bool {
    let ints = ty
        .params()
        .iter()
        .filter(|t| matches!(t, ValType::I32 | ValType::I64))
        .count();
    let floats = ty.params().len() - ints;
    native_host_abi(ty) && ints + 2 <= 6 && floats <= 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_numbers_and_at_most_one_result() {
        let ty = |p: &[ValType], r: &[ValType]| FuncType::new(p.to_vec(), r.to_vec());
        let yes = cfg!(target_arch = "x86_64");
        assert_eq!(native_host_abi(&ty(&[], &[])), yes);
        assert_eq!(
            native_host_abi(&ty(&[ValType::I32, ValType::F64], &[ValType::F32])),
            yes
        );
        assert!(!native_host_abi(&ty(&[ValType::V128], &[])));
        assert!(!native_host_abi(&ty(&[ValType::FUNCREF], &[])));
        assert!(!native_host_abi(&ty(&[], &[ValType::I32, ValType::I32])));
        assert!(!native_host_abi(&ty(&[], &[ValType::EXTERNREF])));
    }

    #[test]
    fn direct_calls_need_every_argument_in_a_register() {
        let ty = |p: &[ValType]| FuncType::new(p.to_vec(), [ValType::I32]);
        let yes = cfg!(target_arch = "x86_64");
        assert_eq!(native_host_direct(&ty(&[ValType::I32; 4])), yes);
        assert!(!native_host_direct(&ty(&[ValType::I32; 5])));
        assert_eq!(native_host_direct(&ty(&[ValType::F64; 8])), yes);
        assert!(!native_host_direct(&ty(&[ValType::F64; 9])));
        assert!(!native_host_direct(&ty(&[ValType::V128])));
    }
}
