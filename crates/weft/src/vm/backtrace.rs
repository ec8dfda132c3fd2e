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
