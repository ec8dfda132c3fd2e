//! WASI preview1 (`wasi_snapshot_preview1`) for weft.
//!
//! ```no_run
//! use weft::{Engine, Linker, Module, Store};
//! use weft_wasi::{WasiCtx, add_to_linker, run_command};
//!
//! let engine = Engine::default();
//! let module = Module::from_file(&engine, "hello.wasm")?;
//! let ctx = WasiCtx::builder().arg("hello").inherit_stdio().build();
//! let mut store = Store::new(&engine, ctx);
//! let mut linker = Linker::new(&engine);
//! add_to_linker(&mut linker, |ctx: &mut WasiCtx| ctx)?;
//! let instance = linker.instantiate(&mut store, &module)?;
//! let status = run_command(&mut store, &instance)?;
//! std::process::exit(status);
//! # Ok::<(), weft::Error>(())
//! ```
//!
//! Built on weft's public embedding API only: this crate must not depend
//! on weft internals, on the `.wast` runner or on the CLI.
//!
//! One file per syscall family (as wazero's `wasi_snapshot_preview1`):
//! `args`, `environ`, `clock`, `random`, `fd`, `path`, `poll`, `proc`,
//! `sched`, `sock`; `ctx` holds the state and descriptor table, `errno` the
//! error codes, `memory` the bounds-checked guest memory access, `types`
//! the ABI constants and record layouts.
//!
//! Filesystem access goes through `cap-std`: every path is resolved
//! beneath a preopened directory, so `..`, absolute paths and symlinks
//! cannot reach the host outside it (such attempts fail with `EPERM` or
//! `ENOTCAPABLE`).

mod args;
mod clock;
mod ctx;
mod environ;
mod errno;
mod fd;
mod memory;
mod path;
mod poll;
mod proc;
mod random;
mod sched;
mod sock;
pub mod types;

pub use ctx::{InputStream, OutputPipe, OutputStream, WasiCtx, WasiCtxBuilder};
pub use errno::Errno;

use errno::{SysError, SysResult};
use memory::Mem;
use std::sync::Arc;
use weft::{AsContextMut, Caller, Extern, Instance, Linker, Memory};

/// The import module name of WASI preview1.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// The error `proc_exit` traps with: the guest asked to exit with this
/// status. Recover it from a call's error with
/// `err.downcast_ref::<I32Exit>()` (or use [`exit_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct I32Exit(pub i32);

impl std::fmt::Display for I32Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the guest exited with status {}", self.0)
    }
}

impl std::error::Error for I32Exit {}

/// The exit status carried by `err` if it is a `proc_exit`.
pub fn exit_status(err: &weft::Error) -> Option<i32> {
    err.downcast_ref::<I32Exit>().map(|e| e.0)
}

type GetCtx<T> = dyn Fn(&mut T) -> &mut WasiCtx + Send + Sync;

/// What a syscall implementation sees: the caller (for memory) and a way
/// to reach the [`WasiCtx`] inside the store's data.
pub(crate) struct Cx<'a, 'c, T> {
    caller: &'a mut Caller<'c, T>,
    get: &'a GetCtx<T>,
    memory: Option<Memory>,
}

impl<T> Cx<'_, '_, T> {
    /// The calling instance's exported `memory` (a trap if there is none).
    pub(crate) fn mem(&mut self) -> SysResult<Mem<'_>> {
        let m = self.memory.ok_or_else(|| {
            SysError::Trap(anyhow::anyhow!(
                "WASI call from a module that exports no memory named `memory`"
            ))
        })?;
        Ok(Mem(m.data_mut(&mut *self.caller)))
    }

    /// The WASI state.
    pub(crate) fn ctx(&mut self) -> &mut WasiCtx {
        (self.get)(self.caller.data_mut())
    }

    /// The bytes of the guest's `count` iovecs at `iovs`, gathered into the
    /// context's reusable write buffer (the memory and the context cannot
    /// be borrowed at once); hand it back with [`Cx::reuse_write_buf`].
    pub(crate) fn gather_write(&mut self, iovs: u32, count: u32) -> SysResult<Vec<u8>> {
        let mut data = std::mem::take(&mut self.ctx().write_buf);
        data.clear();
        self.mem()?.gather_iovecs(iovs, count, &mut data)?;
        Ok(data)
    }

    /// Keeps `data` as the next write's buffer, unless a large write grew it.
    pub(crate) fn reuse_write_buf(&mut self, data: Vec<u8>) {
        if data.capacity() <= 64 * 1024 {
            self.ctx().write_buf = data;
        }
    }
}

type Syscall<T> = fn(&mut Cx<'_, '_, T>, &[u64]) -> SysResult;

/// Defines host functions in a linker.
pub(crate) struct Registrar<'a, T> {
    linker: &'a mut Linker<T>,
    get: Arc<GetCtx<T>>,
}

impl<T: 'static> Registrar<'_, T> {
    /// Defines `name` with parameters `sig` (`i` = i32, `I` = i64) and an
    /// `errno` result (`proc_exit` has none), as a typed host function
    /// (`Linker::func_wrap`: no `Val`s, no allocation per call).
    pub(crate) fn func(&mut self, name: &str, sig: &str, f: Syscall<T>) -> anyhow::Result<()> {
        let get = self.get.clone();
        macro_rules! wrap {
            ($($p:ident: $t:ty),*) => {{
                if name == "proc_exit" {
                    self.linker.func_wrap(
                        MODULE,
                        name,
                        move |mut caller: Caller<'_, T>, $($p: $t),*| -> anyhow::Result<()> {
                            syscall(&mut caller, &*get, f, &[$(Raw::raw($p)),*]).map(drop)
                        },
                    )?;
                } else {
                    self.linker.func_wrap(
                        MODULE,
                        name,
                        move |mut caller: Caller<'_, T>, $($p: $t),*| -> anyhow::Result<i32> {
                            syscall(&mut caller, &*get, f, &[$(Raw::raw($p)),*])
                        },
                    )?;
                }
            }};
        }
        match sig {
            "" => wrap!(),
            "i" => wrap!(a: i32),
            "ii" => wrap!(a: i32, b: i32),
            "iI" => wrap!(a: i32, b: i64),
            "iii" => wrap!(a: i32, b: i32, c: i32),
            "iII" => wrap!(a: i32, b: i64, c: i64),
            "iIi" => wrap!(a: i32, b: i64, c: i32),
            "iiii" => wrap!(a: i32, b: i32, c: i32, d: i32),
            "iIIi" => wrap!(a: i32, b: i64, c: i64, d: i32),
            "iIii" => wrap!(a: i32, b: i64, c: i32, d: i32),
            "iiiii" => wrap!(a: i32, b: i32, c: i32, d: i32, e: i32),
            "iiiIi" => wrap!(a: i32, b: i32, c: i32, d: i64, e: i32),
            "iiiiii" => wrap!(a: i32, b: i32, c: i32, d: i32, e: i32, g: i32),
            "iiiiIIi" => wrap!(a: i32, b: i32, c: i32, d: i32, e: i64, g: i64, h: i32),
            "iiiiiii" => wrap!(a: i32, b: i32, c: i32, d: i32, e: i32, g: i32, h: i32),
            "iiiiiIIii" => wrap!(
                a: i32, b: i32, c: i32, d: i32, e: i32, g: i64, h: i64, j: i32, k: i32
            ),
            other => anyhow::bail!("no host signature for WASI function {name} ({other})"),
        }
        Ok(())
    }
}

/// A WASI parameter as the syscalls see it: a zero-extended u64.
trait Raw {
    fn raw(self) -> u64;
}

impl Raw for i32 {
    fn raw(self) -> u64 {
        self as u32 as u64
    }
}

impl Raw for i64 {
    fn raw(self) -> u64 {
        self as u64
    }
}

/// Runs syscall `f` for `caller` with arguments `args`: the errno it
/// returns, or the trap it raises.
fn syscall<T>(
    caller: &mut Caller<'_, T>,
    get: &GetCtx<T>,
    f: Syscall<T>,
    args: &[u64],
) -> anyhow::Result<i32> {
    // The caller's memory, looked up by name once per calling instance.
    let instance = caller.instance();
    let memory = match (get(caller.data_mut()).memory_of, instance) {
        (Some((i, m)), Some(c)) if i == c => m,
        _ => {
            let m = caller.get_export("memory").and_then(Extern::into_memory);
            if let Some(c) = instance {
                get(caller.data_mut()).memory_of = Some((c, m));
            }
            m
        }
    };
    let mut cx = Cx {
        caller,
        get,
        memory,
    };
    Ok(match f(&mut cx, args) {
        Ok(()) => Errno::Success,
        Err(SysError::Errno(e)) => e,
        Err(SysError::Trap(e)) => return Err(e),
    } as i32)
}

/// Defines every `wasi_snapshot_preview1` function in `linker`. `get`
/// finds the [`WasiCtx`] in the store's data. The definitions belong to no
/// store: one linker serves every store of the engine.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Send + Sync + 'static,
) -> anyhow::Result<()> {
    let mut r = Registrar {
        linker,
        get: Arc::new(get),
    };
    args::add(&mut r)?;
    environ::add(&mut r)?;
    clock::add(&mut r)?;
    random::add(&mut r)?;
    fd::add(&mut r)?;
    path::add(&mut r)?;
    poll::add(&mut r)?;
    proc::add(&mut r)?;
    sched::add(&mut r)?;
    sock::add(&mut r)?;
    Ok(())
}

/// Runs a command module's `_start` and returns its exit status: `0` when
/// `_start` returns, the `proc_exit` status otherwise. Traps and other
/// errors are returned as errors.
pub fn run_command<T>(
    mut store: impl AsContextMut<Data = T>,
    instance: &Instance,
) -> weft::Result<i32> {
    let start = instance
        .get_func(&mut store, "_start")
        .ok_or_else(|| anyhow::anyhow!("the module exports no `_start` function"))?;
    match start.call(&mut store, &[], &mut []) {
        Ok(()) => Ok(0),
        Err(e) => exit_status(&e).ok_or(e),
    }
}

/// Initialises a reactor module: calls its `_initialize` export, if any.
/// Call once, before any other export.
pub fn initialize_reactor<T>(
    mut store: impl AsContextMut<Data = T>,
    instance: &Instance,
) -> weft::Result<()> {
    if let Some(init) = instance.get_func(&mut store, "_initialize") {
        init.call(&mut store, &[], &mut [])?;
    }
    Ok(())
}

/// Whether `module` is a command (exports `_start`) rather than a reactor.
pub fn is_command(module: &weft::Module) -> bool {
    module.exports().any(|e| e.name() == "_start")
}
