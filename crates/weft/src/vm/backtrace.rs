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
//! The one walker (`super::stack::walk`) follows this chain across
//! activations and stacks: the signal handler runs it while a trap's frames
//! still exist, [`capture`] runs it from host code. Here the PCs are mapped
//! to functions, dropping trampoline frames (a host function's error traps
//! inside its trampoline; each stretch ends in an entry trampoline).

use super::code_registry;
use super::module::ModuleCode;
use super::stack::{Start, walk};
use crate::trap::{FrameInfo, WasmBacktrace};

/// Turns the frame PCs recorded by the trap handler (innermost first) into
/// wasm frames, skipping trampolines.
pub(crate) fn symbolize(pcs: &[usize]) -> WasmBacktrace {
    let mut frames = Vec::new();
    for &pc in pcs {
        let Some(code) = code_registry::lookup(pc) else {
            continue;
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

/// The wasm frames that are live right now in `store`, innermost first:
/// for a host function called from wasm (directly or through other host
/// functions), the frames of the wasm that called it and of every wasm
/// activation and stack below. Empty when no wasm of the store is active.
pub(crate) fn capture(store: &super::StoreOpaque) -> WasmBacktrace {
    let record = store.vm_store_ctx.current_stack.get();
    let mut pcs = Vec::new();
    // SAFETY: the current record and its activations are live while the
    // store is borrowed by code running inside them (or idle, with no
    // activation: then the walk finds nothing).
    unsafe {
        walk(
            record,
            Start::LastExit,
            code_registry::lookup,
            |frame, _code| {
                pcs.push(frame.lookup_pc());
                if pcs.len() >= super::traphandlers::MAX_TRAP_FRAMES {
                    std::ops::ControlFlow::Break(())
                } else {
                    std::ops::ControlFlow::Continue(())
                }
            },
        )
    };
    symbolize(&pcs)
}
