//! Traps and wasm backtraces as errors.

use std::fmt;

pub use weft_environ::Trap;

/// One frame of a [`WasmBacktrace`].
#[derive(Debug, Clone)]
pub struct FrameInfo {
    /// Index of the function in its module's function index space.
    pub func_index: u32,
    /// Name from the name section, if any.
    pub func_name: Option<String>,
    /// Name of the module from its name section, if any.
    pub module_name: Option<String>,
    /// Offset of the instruction within the module's bytes, when known.
    pub module_offset: Option<usize>,
    /// Offset of the instruction from the start of the function's code.
    pub code_offset: usize,
}

/// The wasm frames that were live when a trap happened, innermost first.
/// Attached as context to trap errors.
#[derive(Debug, Clone, Default)]
pub struct WasmBacktrace {
    /// Frames, innermost first.
    pub frames: Vec<FrameInfo>,
}

impl WasmBacktrace {
    /// The wasm frames of `store` that are live right now, innermost first.
    ///
    /// Called from a host function, these are the frames of the wasm that
    /// called it, then those of every enclosing activation: wasm that
    /// called the host that called into wasm again, on this stack and on
    /// the stacks that resumed it (an async call's fiber continues into its
    /// poller's frames). Empty when no wasm of the store is running.
    pub fn capture(store: impl crate::AsContext) -> WasmBacktrace {
        crate::vm::capture_backtrace(&store.as_context().0.opaque)
    }
}

impl fmt::Display for WasmBacktrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "wasm backtrace:")?;
        // Deep recursion yields thousands of frames: show both ends.
        const HEAD: usize = 20;
        const TAIL: usize = 10;
        let n = self.frames.len();
        for (i, frame) in self.frames.iter().enumerate() {
            if n > HEAD + TAIL && i >= HEAD && i < n - TAIL {
                if i == HEAD {
                    writeln!(f, "       ... {} frames omitted ...", n - HEAD - TAIL)?;
                }
                continue;
            }
            write!(f, "  {i:>3}: ")?;
            if let Some(m) = &frame.module_name {
                write!(f, "{m}!")?;
            }
            match &frame.func_name {
                Some(name) => write!(f, "{name}")?,
                None => write!(f, "<wasm function {}>", frame.func_index)?,
            }
            if let Some(off) = frame.module_offset {
                write!(f, " @ {off:#x}")?;
            } else {
                write!(f, " + {:#x}", frame.code_offset)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for WasmBacktrace {}
