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

/// How the syscalls find the [`WasiCtx`] in the store's data: the closure
/// given to [`add_to_linker`], kept as its own type so that each host
/// function calls it directly (no `dyn` call per syscall).
pub(crate) trait GetCtx<T>: Fn(&mut T) -> &mut WasiCtx + Send + Sync + 'static {}

impl<T, G: Fn(&mut T) -> &mut WasiCtx + Send + Sync + 'static> GetCtx<T> for G {}

/// What a syscall implementation sees: the calling instance's exported
/// memory and the [`WasiCtx`], both borrowed for the whole call (the store
/// lends them together, see `Memory::data_and_store_mut`). A WASI call
/// never runs wasm code, so the memory cannot grow or move while it runs.
pub(crate) struct Cx<'a> {
    /// The guest memory; `None` if the caller exports no `memory`.
    mem: Option<&'a mut [u8]>,
    ctx: &'a mut WasiCtx,
}

impl Cx<'_> {
    /// The calling instance's exported `memory` (a trap if there is none).
    #[inline]
    pub(crate) fn mem(&mut self) -> SysResult<Mem<'_>> {
        self.mem_and_ctx().map(|(m, _)| m)
    }

    /// The WASI state.
    #[inline]
    pub(crate) fn ctx(&mut self) -> &mut WasiCtx {
        self.ctx
    }

    /// Runs `f` on the WASI state and the bytes of the guest's `count`
    /// iovecs at `iovs` (`EFAULT` first if any is out of bounds): the
    /// guest's own buffer for one iovec, else the buffers gathered into the
    /// context's reusable write buffer (no allocation once it has grown;
    /// dropped after a large write).
    #[inline]
    pub(crate) fn with_gathered<R>(
        &mut self,
        iovs: u32,
        count: u32,
        f: impl FnOnce(&mut WasiCtx, &[u8]) -> SysResult<R>,
    ) -> SysResult<R> {
        let (mem, ctx) = self.mem_and_ctx()?;
        if count == 1 {
            let data = mem.gather_one(iovs)?;
            return f(ctx, data);
        }
        let mut scratch = std::mem::take(&mut ctx.write_buf);
        let r = match mem.gather(iovs, count, &mut scratch) {
            Ok(data) => f(ctx, data),
            Err(e) => Err(e.into()),
        };
        if scratch.capacity() <= 64 * 1024 {
            ctx.write_buf = scratch;
        }
        r
    }

    /// The memory and the WASI state at once.
    #[inline]
    pub(crate) fn mem_and_ctx(&mut self) -> SysResult<(Mem<'_>, &mut WasiCtx)> {
        match &mut self.mem {
            Some(m) => Ok((Mem(m), &mut *self.ctx)),
            None => Err(no_memory()),
        }
    }
}

#[cold]
fn no_memory() -> SysError {
    SysError::Trap(anyhow::anyhow!(
        "WASI call from a module that exports no memory named `memory`"
    ))
}

/// A syscall implementation: its host function calls it statically with
/// the parameters zero-extended to u64s.
pub(crate) trait Syscall:
    Fn(&mut Cx<'_>, &[u64]) -> SysResult + Copy + Send + Sync + 'static
{
}

impl<F: Fn(&mut Cx<'_>, &[u64]) -> SysResult + Copy + Send + Sync + 'static> Syscall for F {}

/// Defines host functions in a linker.
pub(crate) struct Registrar<'a, T, G> {
    linker: &'a mut Linker<T>,
    get: Arc<G>,
}

/// A WASI function's wasm parameter types, as a tuple (`(i32, i64, i32)`):
/// defines a typed host function (`Linker::func_wrap`: no `Val`s, no
/// allocation per call) with these parameters that calls one syscall
/// statically (the syscall and the context lookup inline into the host
/// function's native entry).
pub(crate) trait Params {
    /// A function with an `errno` result.
    fn define<T: 'static, G: GetCtx<T>>(
        linker: &mut Linker<T>,
        name: &str,
        get: Arc<G>,
        f: impl Syscall,
    ) -> anyhow::Result<()>;
}

macro_rules! params {
    ($($p:ident: $t:ty),*) => {
        impl Params for ($($t,)*) {
            fn define<T: 'static, G: GetCtx<T>>(
                linker: &mut Linker<T>,
                name: &str,
                get: Arc<G>,
                f: impl Syscall,
            ) -> anyhow::Result<()> {
                linker.func_wrap(
                    MODULE,
                    name,
                    #[inline(always)]
                    move |caller: Caller<'_, T>, $($p: $t),*| -> anyhow::Result<i32> {
                        syscall(caller, &*get, move |cx| f(cx, &[$(Raw::raw($p)),*]))
                    },
                )?;
                Ok(())
            }
        }
    };
}

params!();
params!(a: i32);
params!(a: i32, b: i32);
params!(a: i32, b: i64);
params!(a: i32, b: i32, c: i32);
params!(a: i32, b: i64, c: i64);
params!(a: i32, b: i64, c: i32);
params!(a: i32, b: i32, c: i32, d: i32);
params!(a: i32, b: i64, c: i64, d: i32);
params!(a: i32, b: i64, c: i32, d: i32);
params!(a: i32, b: i32, c: i32, d: i32, e: i32);
params!(a: i32, b: i32, c: i32, d: i64, e: i32);
params!(a: i32, b: i32, c: i32, d: i32, e: i32, g: i32);
params!(a: i32, b: i32, c: i32, d: i32, e: i64, g: i64, h: i32);
params!(a: i32, b: i32, c: i32, d: i32, e: i32, g: i32, h: i32);
params!(a: i32, b: i32, c: i32, d: i32, e: i32, g: i64, h: i64, j: i32, k: i32);

impl<T: 'static, G: GetCtx<T>> Registrar<'_, T, G> {
    /// Defines `name` with wasm parameters `P` and an `errno` result, which
    /// runs syscall `f` on the parameters zero-extended to u64s.
    pub(crate) fn func<P: Params>(&mut self, name: &str, f: impl Syscall) -> anyhow::Result<()> {
        P::define(self.linker, name, self.get.clone(), f)
    }

    /// As [`Registrar::func`], for the one function without a result,
    /// `proc_exit(i32)` (it always traps, so it needs no fast path).
    pub(crate) fn func_no_result(&mut self, name: &str, f: impl Syscall) -> anyhow::Result<()> {
        let get = self.get.clone();
        self.linker.func_wrap(
            MODULE,
            name,
            move |caller: Caller<'_, T>, a: i32| -> anyhow::Result<()> {
                syscall(caller, &*get, move |cx| f(cx, &[a.raw()])).map(drop)
            },
        )?;
        Ok(())
    }
}

/// A WASI parameter as the syscalls see it: a zero-extended u64.
trait Raw {
    fn raw(self) -> u64;
}

impl Raw for i32 {
    #[inline(always)]
    fn raw(self) -> u64 {
        self as u32 as u64
    }
}

impl Raw for i64 {
    #[inline(always)]
    fn raw(self) -> u64 {
        self as u64
    }
}

/// Runs syscall `f` for `caller`: the errno it returns, or the trap it
/// raises. Inlined into each host function, so that the syscall's result
/// reaches the native entry in registers.
///
/// The caller's exported `memory` is looked up by name once per calling
/// instance and cached in its [`WasiCtx`]; the first call from an instance
/// takes the out-of-line [`syscall_first`]. The caller moves there by
/// value: taking its address on that path would keep it in memory (and
/// copied through memory) on the common one.
#[inline(always)]
fn syscall<T, G: GetCtx<T>>(
    mut caller: Caller<'_, T>,
    get: &G,
    f: impl FnOnce(&mut Cx<'_>) -> SysResult,
) -> anyhow::Result<i32> {
    let cached = match (get(caller.data_mut()).memory_of, caller.instance()) {
        (Some((i, m)), Some(c)) if i == c => Some(m),
        _ => None,
    };
    match cached {
        Some(memory) => run(caller, get, memory, f),
        None => syscall_first(caller, get, f),
    }
}

/// [`syscall`] for an instance whose memory is not cached yet.
#[cold]
#[inline(never)]
fn syscall_first<T, G: GetCtx<T>>(
    mut caller: Caller<'_, T>,
    get: &G,
    f: impl FnOnce(&mut Cx<'_>) -> SysResult,
) -> anyhow::Result<i32> {
    let memory = caller.get_export("memory").and_then(Extern::into_memory);
    if let Some(c) = caller.instance() {
        get(caller.data_mut()).memory_of = Some((c, memory));
    }
    run(caller, get, memory, f)
}

/// Runs `f` with the caller's `memory` (if it has one) and the WASI state.
#[inline(always)]
fn run<T, G: GetCtx<T>>(
    mut caller: Caller<'_, T>,
    get: &G,
    memory: Option<Memory>,
    f: impl FnOnce(&mut Cx<'_>) -> SysResult,
) -> anyhow::Result<i32> {
    let (mem, data) = match memory {
        Some(m) => {
            let (mem, data) = m.data_and_store_mut(&mut caller);
            (Some(mem), data)
        }
        None => (None, caller.data_mut()),
    };
    let mut cx = Cx {
        mem,
        ctx: get(data),
    };
    Ok(match f(&mut cx) {
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
