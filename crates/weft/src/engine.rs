//! Engines and their configuration.

use crate::Result;
use std::sync::Arc;
use weft_environ::wasmparser::WasmFeatures;

/// How hard Cranelift optimises generated code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptLevel {
    /// No optimisation.
    None,
    /// Optimise for speed (the default).
    Speed,
    /// Optimise for speed and size.
    SpeedAndSize,
}

/// Settings shared by everything an [`Engine`] compiles and runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) features: WasmFeatures,
    pub(crate) max_wasm_stack: usize,
    pub(crate) opt_level: OptLevel,
    pub(crate) parallel_compilation: bool,
    pub(crate) epoch_interruption: bool,
    pub(crate) async_support: bool,
    pub(crate) async_stack_size: usize,
    pub(crate) host_stack_reserve: usize,
    /// `None`: the default, resolved by `Engine::new` (see
    /// [`Config::debug_info`]).
    pub(crate) debug_info: Option<bool>,
    pub(crate) consume_fuel: bool,
    pub(crate) module_limits: weft_environ::ModuleLimits,
    /// Where the code cache lives; `None`: no cache.
    pub(crate) cache_dir: Option<std::path::PathBuf>,
    /// Size bound of the code cache, in bytes.
    pub(crate) cache_max_size: u64,
    /// Initialise memories from copy-on-write images when possible.
    pub(crate) memory_init_cow: bool,
    /// Continuation stack sizes.
    pub(crate) cont_stacks: crate::vm::continuation::ContStackConfig,
    /// Most bytes the live GC objects of one store may occupy.
    pub(crate) gc_heap_max_size: usize,
}

/// Default size of one continuation stack: 256 KiB of address space
/// (header and red zone included; only touched pages cost memory).
pub const DEFAULT_CONTINUATION_STACK_SIZE: usize = 256 * 1024;

/// Default red zone of a continuation stack: 16 KiB below the stack limit
/// for bounded runtime code.
pub const DEFAULT_CONTINUATION_RED_ZONE: usize = 16 * 1024;

/// Default limit of the wasm stack: 512 KiB.
pub const DEFAULT_MAX_WASM_STACK: usize = 512 * 1024;

/// Default native stack guaranteed to host functions called from wasm:
/// 128 KiB.
pub const DEFAULT_HOST_STACK_RESERVE: usize = 128 * 1024;

/// Smallest accepted [`Config::host_stack_reserve`]: the trap handler and
/// the runtime's own code between wasm and a host function need about
/// this much.
pub const MIN_HOST_STACK_RESERVE: usize = 32 * 1024;

/// Default size of the fiber stacks async calls run on: 2 MiB (only the
/// pages actually used are committed).
pub const DEFAULT_ASYNC_STACK_SIZE: usize = 2 << 20;

impl Default for Config {
    fn default() -> Config {
        Config {
            features: weft_environ::default_features(),
            max_wasm_stack: DEFAULT_MAX_WASM_STACK,
            opt_level: OptLevel::Speed,
            parallel_compilation: true,
            epoch_interruption: false,
            async_support: false,
            async_stack_size: DEFAULT_ASYNC_STACK_SIZE,
            host_stack_reserve: DEFAULT_HOST_STACK_RESERVE,
            debug_info: None,
            consume_fuel: false,
            module_limits: Default::default(),
            cache_dir: None,
            cache_max_size: crate::cache::DEFAULT_MAX_SIZE,
            memory_init_cow: true,
            cont_stacks: crate::vm::continuation::ContStackConfig {
                stack_size: DEFAULT_CONTINUATION_STACK_SIZE,
                red_zone: DEFAULT_CONTINUATION_RED_ZONE,
                max_live: 4 << 20,
            },
            gc_heap_max_size: 1 << 30,
        }
    }
}

impl Config {
    /// The default configuration.
    pub fn new() -> Config {
        Config::default()
    }

    /// Maximum number of bytes of native stack that wasm code (and the host
    /// code it calls) may use, measured from the outermost host->wasm entry.
    /// Exceeding it is a "call stack exhausted" trap. Default 512 KiB.
    pub fn max_wasm_stack(&mut self, bytes: usize) -> &mut Config {
        self.max_wasm_stack = bytes;
        self
    }

    /// Cranelift optimisation level. Default [`OptLevel::Speed`].
    pub fn cranelift_opt_level(&mut self, level: OptLevel) -> &mut Config {
        self.opt_level = level;
        self
    }

    /// Whether to compile a module's functions on all cores. Default on.
    pub fn parallel_compilation(&mut self, enable: bool) -> &mut Config {
        self.parallel_compilation = enable;
        self
    }

    /// Makes generated code check the engine's epoch (see
    /// [`Engine::increment_epoch`]) at every function entry and loop header
    /// against the store's deadline (see [`crate::Store::set_epoch_deadline`]),
    /// so that long-running or looping wasm can be interrupted. Costs a
    /// load and compare per check. Default off.
    pub fn epoch_interruption(&mut self, enable: bool) -> &mut Config {
        self.epoch_interruption = enable;
        self
    }

    /// Makes wasm consume fuel as it runs: one unit per instruction
    /// (`nop`, `drop`, `block`, `loop`, `unreachable`, `return`, `else` and
    /// `end` cost nothing), charged at the end of each straight-line
    /// stretch of code and checked at every function entry and loop header.
    /// When the store's fuel ([`crate::Store::set_fuel`]) runs out, wasm
    /// traps with [`crate::Trap::OutOfFuel`]. A new store has no fuel.
    /// Costs a load, add and store per basic block. Default off.
    pub fn consume_fuel(&mut self, enable: bool) -> &mut Config {
        self.consume_fuel = enable;
        self
    }

    /// Refuses to compile modules larger than `bytes` (binary format).
    /// Default: no limit.
    pub fn max_module_size(&mut self, bytes: usize) -> &mut Config {
        self.module_limits.max_module_size = Some(bytes);
        self
    }

    /// Refuses to compile modules with more than `n` functions (imported
    /// and defined). Default: wasmparser's limit of 1,000,000.
    pub fn max_functions(&mut self, n: u32) -> &mut Config {
        self.module_limits.max_functions = Some(n);
        self
    }

    /// Refuses to compile modules with a function body larger than `bytes`.
    /// Default: wasmparser's limit of 7,654,321 bytes.
    pub fn max_function_body_size(&mut self, bytes: usize) -> &mut Config {
        self.module_limits.max_function_body_size = Some(bytes);
        self
    }

    /// Refuses to compile modules with a function declaring more than `n`
    /// locals (parameters not counted). Default: wasmparser's limit of
    /// 50,000.
    pub fn max_function_locals(&mut self, n: u32) -> &mut Config {
        self.module_limits.max_function_locals = Some(n);
        self
    }

    /// Enables `Func::call_async`, `Instance::new_async`, async host
    /// functions (`Linker::func_wrap_async`) and epoch-based yielding: wasm
    /// then runs on a fiber that suspends back to the executor whenever a
    /// host future is pending. Default off.
    pub fn async_support(&mut self, enable: bool) -> &mut Config {
        self.async_support = enable;
        self
    }

    /// Native stack that a host function called from wasm is guaranteed:
    /// before calling the host, the wasm->host trampoline checks that at
    /// least this many bytes of the running stack remain, and traps with
    /// "call stack exhausted" otherwise. Wasm frames never go below this
    /// reserve either. Together this makes guest<->host recursion of any
    /// depth end in a clean trap, with every host frame unwound normally.
    /// A host function that itself needs more stack than this overflows
    /// the native stack, which ends the process with a message (as a Rust
    /// stack overflow does). Default 128 KiB; must be at least 32 KiB.
    pub fn host_stack_reserve(&mut self, bytes: usize) -> &mut Config {
        self.host_stack_reserve = bytes;
        self
    }

    /// Size of each continuation stack (stack-switching proposal), in
    /// bytes of address space, including its header and red zone; rounded
    /// up to whole pages. Continuation stacks have no guard page: every
    /// wasm function checks the stack limit in its prologue, so a deep
    /// recursion inside a continuation traps with a stack overflow.
    /// Default 256 KiB; at least 16 KiB.
    pub fn continuation_stack_size(&mut self, bytes: usize) -> &mut Config {
        self.cont_stacks.stack_size = bytes;
        self
    }

    /// Bytes at the bottom of each continuation stack below its stack
    /// limit, for the bounded runtime code that runs below wasm frames
    /// (builtins, trampolines, a signal frame). Default 16 KiB; at least
    /// 8 KiB and at most half the stack.
    pub fn continuation_red_zone(&mut self, bytes: usize) -> &mut Config {
        self.cont_stacks.red_zone = bytes;
        self
    }

    /// Most continuations alive at once in one store (default 4 Mi).
    /// Creating one more is a trap with an error saying so.
    pub fn max_live_continuations(&mut self, n: usize) -> &mut Config {
        self.cont_stacks.max_live = n;
        self
    }

    /// Most bytes the live GC objects (structs and arrays) of one store
    /// may occupy; allocating past it (after a collection) traps with
    /// "out of memory". The heap reserves twice this much address space
    /// (two semispaces) on first use and commits only what it touches.
    /// Default 1 GiB; at least 64 KiB.
    pub fn gc_heap_max_size(&mut self, bytes: usize) -> &mut Config {
        self.gc_heap_max_size = bytes;
        self
    }

    /// Size of each fiber stack used by async calls. It must exceed
    /// [`Config::max_wasm_stack`] by at least [`Config::host_stack_reserve`]
    /// (room for host code). Default 2 MiB.
    pub fn async_stack_size(&mut self, bytes: usize) -> &mut Config {
        self.async_stack_size = bytes;
        self
    }

    /// Describes all generated code (wasm functions and trampolines: their
    /// names and how to unwind through them) to native debuggers through
    /// gdb's JIT interface, so that gdb and lldb show named wasm frames in
    /// backtraces and walk through them into the host frames below.
    ///
    /// Costs an in-memory ELF image per code memory (symbols and
    /// `.eh_frame`: about 0.2% of compile time, but ~3% of loading a cached
    /// or precompiled module with thousands of functions, and memory
    /// around a third of the code's size; see `docs/RATIONALE.md`) and a
    /// list insert; an attached debugger additionally stops briefly at each
    /// registration. Default, decided when the engine is created: on when
    /// the process runs under a debugger (`gdb --args ...`: Linux's
    /// `TracerPid`), or when the environment variable `WEFT_GDB_JIT` is set
    /// to anything but `0`; off otherwise (`WEFT_GDB_JIT=0` turns it off
    /// under a debugger too). A debugger attached later (`gdb -p`) sees
    /// named wasm frames only with `WEFT_GDB_JIT=1` or this setting.
    pub fn debug_info(&mut self, enable: bool) -> &mut Config {
        self.debug_info = Some(enable);
        self
    }

    /// Whether code is registered with gdb's JIT interface (`Engine::new`
    /// resolves the environment variable once).
    pub(crate) fn gdb_jit_enabled(&self) -> bool {
        self.debug_info
            .unwrap_or_else(|| match std::env::var_os("WEFT_GDB_JIT") {
                Some(v) => v != "0",
                None => under_debugger(),
            })
    }

    /// Keeps compiled code in a cache directory, keyed by a SHA-256 of the
    /// module's bytes and the engine's code-affecting settings, so that
    /// compiling the same module again (in this process or another) loads
    /// the code instead. `None` (the default) disables the cache; the CLI
    /// uses [`crate::default_cache_directory`].
    ///
    /// Entries are written atomically (concurrent users of one directory
    /// are safe), damaged entries are ignored and rebuilt, and the
    /// directory is kept under [`Config::cache_max_size`] by deleting the
    /// least recently used entries. Entries are trusted like the
    /// executable itself: the directory must not be writable by others
    /// (see [`crate::Module::deserialize`]).
    pub fn cache_directory(&mut self, dir: Option<std::path::PathBuf>) -> &mut Config {
        self.cache_dir = dir;
        self
    }

    /// Upper bound of the code cache's total size in bytes; when a new
    /// entry takes it over, the least recently used entries are deleted.
    /// Default 1 GiB.
    pub fn cache_max_size(&mut self, bytes: u64) -> &mut Config {
        self.cache_max_size = bytes;
        self
    }

    /// Initialises linear memories by mapping a copy-on-write image of the
    /// module's data segments (an in-memory file built once per module)
    /// instead of copying the bytes, when that is exactly equivalent:
    /// constant offsets, memories the module defines, every segment in
    /// bounds, and at least 16 KiB of data. A module's first instantiation
    /// still copies (building the image costs more than one copy); the
    /// image is built on the second and shared by all later instances.
    /// Default on.
    pub fn memory_init_cow(&mut self, enable: bool) -> &mut Config {
        self.memory_init_cow = enable;
        self
    }

    /// Enables or disables the multi-memory proposal.
    pub fn wasm_multi_memory(&mut self, enable: bool) -> &mut Config {
        self.features.set(WasmFeatures::MULTI_MEMORY, enable);
        self
    }

    /// Enables or disables the memory64 proposal.
    pub fn wasm_memory64(&mut self, enable: bool) -> &mut Config {
        self.features.set(WasmFeatures::MEMORY64, enable);
        self
    }

    /// Enables or disables fixed-width SIMD (and relaxed SIMD with it).
    pub fn wasm_simd(&mut self, enable: bool) -> &mut Config {
        self.features.set(WasmFeatures::SIMD, enable);
        if !enable {
            self.features.remove(WasmFeatures::RELAXED_SIMD);
        }
        self
    }

    /// Enables or disables relaxed SIMD.
    pub fn wasm_relaxed_simd(&mut self, enable: bool) -> &mut Config {
        self.features.set(WasmFeatures::RELAXED_SIMD, enable);
        self
    }

    /// Enables or disables the tail-call proposal.
    pub fn wasm_tail_call(&mut self, enable: bool) -> &mut Config {
        self.features.set(WasmFeatures::TAIL_CALL, enable);
        self
    }

    /// Enables or disables typed function references.
    pub fn wasm_function_references(&mut self, enable: bool) -> &mut Config {
        self.features.set(WasmFeatures::FUNCTION_REFERENCES, enable);
        self
    }

    /// Enables or disables exception handling (`tag`, `throw`,
    /// `throw_ref`, `try_table`, `exnref`; on by default as in Wasm 3.0),
    /// and the legacy `try`/`catch`/`catch_all`/`rethrow`/`delegate`.
    pub fn wasm_exceptions(&mut self, enable: bool) -> &mut Config {
        self.features.set(WasmFeatures::EXCEPTIONS, enable);
        self.features.set(WasmFeatures::LEGACY_EXCEPTIONS, enable);
        self
    }

    /// Enables or disables the stack-switching proposal (typed
    /// continuations: `cont.new`, `resume`, `suspend`, `switch`, ...).
    pub fn wasm_stack_switching(&mut self, enable: bool) -> &mut Config {
        self.features.set(WasmFeatures::STACK_SWITCHING, enable);
        self
    }

    /// Enables or disables the GC proposal (and its types). Disabling it
    /// also disables custom descriptors, which extend it.
    pub fn wasm_gc(&mut self, enable: bool) -> &mut Config {
        self.features.set(WasmFeatures::GC, enable);
        self.features.set(WasmFeatures::GC_TYPES, enable);
        if !enable {
            self.features.remove(WasmFeatures::CUSTOM_DESCRIPTORS);
        }
        self
    }

    /// Enables or disables the custom-descriptors proposal (on by default
    /// with GC): exact reference types `(ref (exact $t))`, struct types
    /// with `descriptor`/`describes` clauses, `struct.new_desc`,
    /// `ref.get_desc`, `ref.cast_desc_eq`, `br_on_cast_desc_eq(_fail)`.
    /// It also relaxes `br_on_cast`'s typing (the target need only share
    /// the source's hierarchy), so Wasm 3.0 test suites run without it.
    pub fn wasm_custom_descriptors(&mut self, enable: bool) -> &mut Config {
        self.features.set(WasmFeatures::CUSTOM_DESCRIPTORS, enable);
        self
    }

    /// The wasm features modules are validated against.
    pub fn features(&self) -> WasmFeatures {
        self.features
    }
}

/// A compilation and runtime environment: configuration, the native code
/// generator, and the registry of canonical types. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

pub(crate) struct EngineInner {
    pub(crate) config: Config,
    pub(crate) compiler: weft_cranelift::Compiler,
    pub(crate) types: crate::vm::TypeRegistry,
    pub(crate) host_trampolines: crate::vm::HostTrampolines,
    /// Fiber stacks for async calls, created on first use.
    pub(crate) async_stacks: std::sync::OnceLock<weft_fiber::StackPool>,
    /// The current epoch; generated code reads it through each store's
    /// `VMStoreContext.epoch_ptr`. Boxed so its address is stable.
    pub(crate) epoch: Box<std::sync::atomic::AtomicU64>,
    /// Code cache counters.
    pub(crate) cache_stats: crate::cache::StatCounters,
}

impl Engine {
    /// A new engine with `config`. Fails when the host CPU is not supported.
    pub fn new(config: &Config) -> Result<Engine> {
        if config.host_stack_reserve < MIN_HOST_STACK_RESERVE {
            anyhow::bail!(
                "host_stack_reserve ({} bytes) must be at least {MIN_HOST_STACK_RESERVE} bytes",
                config.host_stack_reserve
            );
        }
        if config.async_support
            && config.async_stack_size
                < config
                    .max_wasm_stack
                    .saturating_add(config.host_stack_reserve)
        {
            anyhow::bail!(
                "async_stack_size ({} bytes) must exceed max_wasm_stack ({} bytes) by at least host_stack_reserve ({} bytes)",
                config.async_stack_size,
                config.max_wasm_stack,
                config.host_stack_reserve
            );
        }
        let cs = &config.cont_stacks;
        if cs.stack_size < 16 * 1024 {
            anyhow::bail!(
                "continuation_stack_size ({} bytes) must be at least 16384 bytes",
                cs.stack_size
            );
        }
        if cs.red_zone < 8 * 1024 || cs.red_zone > cs.stack_size / 2 {
            anyhow::bail!(
                "continuation_red_zone ({} bytes) must be at least 8192 bytes and at most half of continuation_stack_size ({} bytes)",
                cs.red_zone,
                cs.stack_size
            );
        }
        if config.gc_heap_max_size < 64 * 1024 || config.gc_heap_max_size > 1 << 32 {
            anyhow::bail!(
                "gc_heap_max_size ({} bytes) must be between 65536 bytes and 4 GiB",
                config.gc_heap_max_size
            );
        }
        if cs.max_live == 0 || cs.max_live >= 1 << 24 {
            anyhow::bail!(
                "max_live_continuations ({}) must be between 1 and {}",
                cs.max_live,
                (1 << 24) - 1
            );
        }
        crate::vm::init_traps();
        let opt = match config.opt_level {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
            OptLevel::SpeedAndSize => "speed_and_size",
        };
        let options = weft_cranelift::CompilerOptions {
            epoch_interruption: config.epoch_interruption,
            consume_fuel: config.consume_fuel,
        };
        let compiler = weft_cranelift::Compiler::new_native(opt, options)?;
        let mut config = config.clone();
        config.debug_info = Some(config.gdb_jit_enabled());
        Ok(Engine {
            inner: Arc::new(EngineInner {
                config,
                compiler,
                types: crate::vm::TypeRegistry::default(),
                host_trampolines: crate::vm::HostTrampolines::default(),
                epoch: Box::new(std::sync::atomic::AtomicU64::new(0)),
                async_stacks: std::sync::OnceLock::new(),
                cache_stats: Default::default(),
            }),
        })
    }

    /// The engine's configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The pool of fiber stacks for async calls.
    pub(crate) fn async_stacks(&self) -> Result<&weft_fiber::StackPool> {
        if let Some(p) = self.inner.async_stacks.get() {
            return Ok(p);
        }
        // Reused stacks keep their pages: returning one to the pool costs no
        // syscall (an madvise per call would dominate the cost of a short
        // async call). The cache is bounded, so at most
        // max_cached * async_stack_size bytes stay resident.
        let pool = weft_fiber::StackPool::new(weft_fiber::StackPoolConfig {
            stack_size: self.inner.config.async_stack_size,
            max_cached: 64,
            keep_resident: usize::MAX,
        })?;
        Ok(self.inner.async_stacks.get_or_init(|| pool))
    }

    /// Advances the epoch by one. Safe to call from any thread (e.g. a
    /// timer thread); wasm running with [`Config::epoch_interruption`]
    /// notices at its next function entry or loop iteration.
    pub fn increment_epoch(&self) {
        self.inner
            .epoch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The current epoch.
    pub fn current_epoch(&self) -> u64 {
        self.inner.epoch.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Compiles a module (binary or text) into a precompiled artifact that
    /// [`crate::Module::deserialize`] loads without compiling, on an engine
    /// with the same code-affecting settings on the same kind of CPU.
    pub fn precompile_module(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let binary = wat::parse_bytes(bytes).map_err(anyhow::Error::new)?;
        let (info, parts) = crate::vm::CompiledModule::compile_parts(self, &binary)?;
        crate::artifact::serialize(self, &binary, &info, &parts)
    }

    /// Whether `bytes` look like a precompiled module (its magic bytes;
    /// nothing else is checked).
    pub fn detect_precompiled(bytes: &[u8]) -> bool {
        crate::artifact::is_precompiled(bytes)
    }

    /// How the code cache ([`Config::cache_directory`]) has served this
    /// engine's compilations so far.
    pub fn cache_stats(&self) -> crate::CacheStats {
        self.inner.cache_stats.snapshot()
    }

    /// Whether two handles name the same engine.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(&Config::default()).expect("the host CPU is supported by weft")
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Whether a debugger (or another tracer) is attached to this process:
/// the `TracerPid` line of `/proc/self/status` (Linux); false elsewhere or
/// when it cannot be read.
fn under_debugger() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))
            .is_some_and(|pid| pid.trim() != "0")
    })
}
