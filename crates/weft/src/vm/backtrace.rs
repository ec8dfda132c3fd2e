//! Wasm backtraces by frame-pointer walking.
//!
//! Every function weft generates keeps a frame pointer, so from a trapping
//! wasm frame the chain of callers is:
//!
//! ```text
//!   fp ---> [saved caller fp][return address into caller] ...
//!            |
//!            v
//!           [saved fp of its caller][return address] ...
//! ```
//!
//! The signal handler walks this chain while the frames still exist (see
//! `code_registry::walk_frames_in_handler`) and stops at the first return
//! address outside generated code; here the recorded PCs are mapped to
//! functions, dropping trampoline frames (a host function's error traps
//! inside its trampoline; the chain ends in the entry trampoline).

use super::code_registry;
use super::module::ModuleCode;
use crate::trap::{FrameInfo, WasmBacktrace};

/// Turns the frame PCs recorded by the trap handler (innermost first) into
/// wasm frames, skipping trampolines.
pub(crate) fn symbolize(pcs: &[usize]) -> WasmBacktrace {
    let mut frames = Vec::new();
    for &pc in pcs {
        let Some(code) = code_registry::lookup(pc) else {
            break;
        };
        let Some(module) = code.as_any().downcast_ref::<ModuleCode>() else {
            continue;
        };
        if let Some((func_index, code_offset, module_offset)) = module.wasm_func_at(pc) {
            frames.push(FrameInfo {
                func_index,
                func_name: module.func_names.get(&func_index).cloned(),
                module_name: module.module_name.clone(),
                module_offset,
                code_offset,
            });
        }
    }
    WasmBacktrace { frames }
}

/// Appends the PCs of the live wasm frames of an enclosing activation,
/// starting from the frame pointer its wasm-to-host trampoline recorded
/// (`VMStoreContext.last_wasm_exit_fp`), until the chain leaves generated
/// code.
pub(crate) fn live_frames_from_exit(mut fp: usize, out: &mut Vec<usize>) {
    const MAX: usize = super::traphandlers::MAX_TRAP_FRAMES;
    while fp != 0 && out.len() < MAX {
        // SAFETY: `fp` is the frame pointer of a trampoline or wasm frame
        // that is still live (its activation is suspended in a host call
        // further up this stack); such frames keep [saved fp, return
        // address] at `fp`.
        let (next_fp, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if ret == 0 || next_fp <= fp {
            break;
        }
        let pc = ret - 1;
        if code_registry::lookup(pc).is_none() {
            break;
        }
        out.push(pc);
        fp = next_fp;
    }
}
