//! `weft run`: run a WASI command, or call an export of a module.
//!
//! ```text
//! weft run [OPTIONS] FILE [ARGS...]
//!   --dir HOST[::GUEST]   preopen a host directory (guest name defaults to HOST)
//!   --env NAME[=VALUE]    set a guest environment variable (bare NAME: copy the host's)
//!   --invoke NAME         call this export with ARGS (parsed by parameter type)
//!   --preload NAME=FILE   instantiate FILE first and link its exports as module NAME
//!   -W max-wasm-stack=N   wasm stack limit (the run gets a native stack to match)
//!   -C cache=n            do not use the code cache
//!   --allow-precompiled   accept FILE (and preloads) precompiled by `weft compile -o`
//! ```
//!
//! Compiled code is cached (`weft::Config::cache_directory`) under
//! `$XDG_CACHE_HOME/weft` or `~/.cache/weft` unless `-C cache=n`, so a
//! repeated run of one module loads its code instead of compiling it.
//!
//! WASI preview1 is always linked. Without `--invoke`, a command module's
//! `_start` runs with `argv = [FILE, ARGS...]` and its exit status becomes
//! weft's; a reactor gets `_initialize` and nothing else. With `--invoke`, a
//! reactor's `_initialize` runs first, then the export; its results are
//! printed one per line, like `wasmtime run --invoke`. Flags follow
//! wasmtime's spelling (`--dir=/`, `--env K=V`, `-W key=value`): Go's
//! wasip1 test runner calls exactly those.
//!
//! The guest runs on a thread of its own whose native stack is the wasm
//! stack limit plus a margin, so `-W max-wasm-stack=8388608` (what Go needs)
//! works whatever the main thread's stack is.

use crate::options::CommonOptions;
use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use weft::{Engine, Linker, Module, Store, Val, ValType};
use weft_wasi::{WasiCtx, WasiCtxBuilder};

/// Native stack given to the run on top of the wasm stack limit: room for
/// compilation, the host functions and the runtime itself.
const NATIVE_STACK_MARGIN: usize = 16 << 20;

/// The exit status when the guest traps (as wasmtime: 128 + SIGABRT).
const TRAP_EXIT_STATUS: u8 = 134;

/// weft's default wasm stack limit (`weft::Config` default, 512 KiB).
const DEFAULT_MAX_WASM_STACK: usize = 512 << 10;

#[derive(clap::Args, Debug)]
pub struct RunCommand {
    #[command(flatten)]
    pub(crate) common: CommonOptions,

    /// Call this exported function instead of `_start` (after
    /// `_initialize` for a reactor).
    #[arg(long, value_name = "NAME")]
    pub(crate) invoke: Option<String>,

    /// Give the guest a host directory: `HOST` (seen by the guest under the
    /// same name) or `HOST::GUEST`. Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub(crate) dirs: Vec<String>,

    /// Set a guest environment variable: `NAME=VALUE`, or `NAME` to pass
    /// the host's value. Repeatable.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub(crate) envs: Vec<String>,

    /// Instantiate another module first and link its exports under the
    /// module name NAME: `NAME=FILE`. Repeatable.
    #[arg(long = "preload", value_name = "NAME=FILE")]
    pub(crate) preloads: Vec<String>,

    /// Accept precompiled modules (`weft compile -o`): their machine code
    /// runs as it is, so only pass files you trust.
    #[arg(long)]
    pub(crate) allow_precompiled: bool,

    /// The module to run (`.wasm`, `.wat`, or with `--allow-precompiled`
    /// a precompiled `.cwasm`).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,

    /// Arguments: the program's arguments, or with `--invoke` the
    /// function's arguments (one per parameter, parsed by type).
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) args: Vec<String>,
}

/// The data of the store the guest runs in.
struct Host {
    wasi: WasiCtx,
    /// `-W max-memory-size` (installed as the store's limiter when given).
    limits: weft::StoreLimits,
}

/// How a run ended.
enum Outcome {
    /// Normal completion or `proc_exit` with this status.
    Exit(i32),
    /// A trap or another runtime error.
    Error(anyhow::Error),
}

impl RunCommand {
    pub fn execute(self) -> Result<ExitCode> {
        let mut config = self.common.config()?;
        if self.common.cache()? {
            config.cache_directory(weft::default_cache_directory());
        }
        let stack = self
            .common
            .max_wasm_stack()?
            .unwrap_or(DEFAULT_MAX_WASM_STACK)
            .saturating_add(NATIVE_STACK_MARGIN);
        let ctx = self.wasi_ctx()?;
        let outcome = std::thread::Builder::new()
            .name("weft-run".into())
            .stack_size(stack)
            .spawn(move || self.run(config, ctx))
            .context("failed to start the thread that runs the guest")?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok(match outcome {
            Outcome::Exit(code) => ExitCode::from(code as u8),
            // An uncaught wasm exception is an error, not a trap (as
            // wasmtime: status 1).
            Outcome::Error(e) if e.downcast_ref::<weft::Exception>().is_some() => {
                eprintln!("error: {e:?}");
                ExitCode::FAILURE
            }
            Outcome::Error(e) => {
                eprintln!("error: {e:?}");
                ExitCode::from(TRAP_EXIT_STATUS)
            }
        })
    }

    /// The WASI context the options describe.
    fn wasi_ctx(&self) -> Result<WasiCtx> {
        let mut b = WasiCtxBuilder::new();
        b.inherit_stdio();
        b.arg(self.file.to_string_lossy());
        if self.invoke.is_none() {
            b.args(self.args.iter().cloned());
        }
        for env in &self.envs {
            match env.split_once('=') {
                Some((k, v)) => {
                    b.env(k, v);
                }
                None => {
                    if let Ok(v) = std::env::var(env) {
                        b.env(env, v);
                    }
                }
            }
        }
        for dir in &self.dirs {
            let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
            if host.is_empty() || guest.is_empty() {
                bail!("invalid `--dir {dir}`: expected HOST or HOST::GUEST");
            }
            b.preopened_dir(host, guest)
                .with_context(|| format!("`--dir {dir}`"))?;
        }
        Ok(b.build())
    }

    /// Compiles (or loads from the cache) a module file, or loads a
    /// precompiled one when `--allow-precompiled` permits.
    fn load(&self, engine: &Engine, path: &Path) -> Result<Module> {
        use std::io::Read as _;
        let mut magic = Vec::with_capacity(8);
        std::fs::File::open(path)
            .and_then(|f| f.take(8).read_to_end(&mut magic))
            .with_context(|| format!("failed to read {}", path.display()))?;
        if Engine::detect_precompiled(&magic) {
            if !self.allow_precompiled {
                bail!(
                    "{} is a precompiled module; pass `--allow-precompiled` to run it",
                    path.display()
                );
            }
            // SAFETY: the user asked for precompiled code to be trusted
            // (`--allow-precompiled`); the artifact's format, fingerprint
            // and checksum are still checked. The file is not modified
            // while this process runs it (the user's part of the bargain).
            return unsafe { Module::deserialize_file(engine, path) };
        }
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
        if bytes.starts_with(b"\0asm") {
            return Module::from_binary(engine, &bytes)
                .with_context(|| format!("failed to compile {}", path.display()));
        }
        Module::from_file(engine, path)
    }

    fn run(self, config: weft::Config, ctx: WasiCtx) -> Result<Outcome> {
        let engine = Engine::new(&config)?;
        let module = self.load(&engine, &self.file)?;
        let settings = self.common.store_options()?;
        let limits = settings.limits();
        let has_limits = limits.is_some();
        let mut store = Store::new(
            &engine,
            Host {
                wasi: ctx,
                limits: limits.unwrap_or_default(),
            },
        );
        if has_limits {
            store.limiter(|h| &mut h.limits);
        }
        settings.apply_fuel(&mut store)?;
        let mut linker = Linker::new(&engine);
        weft_wasi::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi)?;

        for preload in &self.preloads {
            let Some((name, path)) = preload.split_once('=') else {
                bail!("invalid `--preload {preload}`: expected NAME=FILE");
            };
            let m = self.load(&engine, path.as_ref())?;
            let instance = match linker.instantiate(&mut store, &m) {
                Ok(i) => i,
                Err(e) => return Ok(outcome_of(e, &format!("instantiate preload {path}"))),
            };
            if let Err(e) = weft_wasi::initialize_reactor(&mut store, &instance) {
                return Ok(outcome_of(e, &format!("initialize preload {path}")));
            }
            linker.instance(&mut store, name, instance)?;
        }

        let instance = match linker.instantiate(&mut store, &module) {
            Ok(i) => i,
            Err(e) => {
                return Ok(outcome_of(
                    e,
                    &format!("failed to instantiate {}", self.file.display()),
                ));
            }
        };

        let Some(name) = &self.invoke else {
            let result = if weft_wasi::is_command(&module) {
                weft_wasi::run_command(&mut store, &instance)
            } else {
                weft_wasi::initialize_reactor(&mut store, &instance).map(|()| 0)
            };
            return Ok(match result {
                Ok(code) => Outcome::Exit(code),
                Err(e) => outcome_of(e, "failed to run the module"),
            });
        };

        if !weft_wasi::is_command(&module)
            && let Err(e) = weft_wasi::initialize_reactor(&mut store, &instance)
        {
            return Ok(outcome_of(e, "`_initialize` failed"));
        }
        let func = instance.get_func(&mut store, name).with_context(|| {
            format!("{} has no exported function `{name}`", self.file.display())
        })?;
        let ty = func.ty(&store);
        let params = parse_args(name, ty.params(), &self.args)?;
        let mut results: Vec<Val> = ty.results().iter().map(Val::default_for).collect();
        if let Err(e) = func.call(&mut store, &params, &mut results) {
            return Ok(outcome_of(e, &format!("failed to invoke `{name}`")));
        }
        for r in &results {
            println!("{}", format_val(r));
        }
        Ok(Outcome::Exit(0))
    }
}

/// A `proc_exit` becomes an exit status; anything else an error.
fn outcome_of(e: anyhow::Error, context: &str) -> Outcome {
    match weft_wasi::exit_status(&e) {
        Some(code) => Outcome::Exit(code),
        None => Outcome::Error(e.context(context.to_string())),
    }
}

fn list(types: &[ValType]) -> String {
    types
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses command-line arguments by the function's parameter types.
pub fn parse_args(name: &str, params: &[ValType], args: &[String]) -> Result<Vec<Val>> {
    if params.len() != args.len() {
        bail!(
            "function `{name}` takes {} argument(s) ({}), but {} were given",
            params.len(),
            list(params),
            args.len()
        );
    }
    params
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (ty, arg))| {
            parse_arg(ty, arg).with_context(|| format!("argument {} of `{name}` (`{arg}`)", i + 1))
        })
        .collect()
}

/// Integers accept decimal (signed or unsigned) and `0x` hex, with `_`
/// separators; floats accept Rust float syntax (`1.5`, `-inf`, `nan`).
fn parse_arg(ty: &ValType, arg: &str) -> Result<Val> {
    let clean = arg.replace('_', "");
    let (neg, digits) = match clean.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, clean.as_str()),
    };
    let unsigned = |max: u128| -> Result<u128> {
        let v = match digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
        {
            Some(hex) => u128::from_str_radix(hex, 16),
            None => digits.parse::<u128>(),
        }
        .map_err(|_| anyhow::anyhow!("not a {ty} integer"))?;
        if v > max {
            bail!("out of range for {ty}");
        }
        Ok(v)
    };
    Ok(match ty {
        ValType::I32 => {
            let v = if neg {
                let m = unsigned(1 << 31)?;
                (m as i64).wrapping_neg() as i32
            } else {
                unsigned(u32::MAX.into())? as u32 as i32
            };
            Val::I32(v)
        }
        ValType::I64 => {
            let v = if neg {
                let m = unsigned(1 << 63)?;
                (m as i128).wrapping_neg() as i64
            } else {
                unsigned(u64::MAX.into())? as u64 as i64
            };
            Val::I64(v)
        }
        ValType::F32 => Val::F32(
            clean
                .parse::<f32>()
                .map_err(|_| anyhow::anyhow!("not an f32"))?
                .to_bits(),
        ),
        ValType::F64 => Val::F64(
            clean
                .parse::<f64>()
                .map_err(|_| anyhow::anyhow!("not an f64"))?
                .to_bits(),
        ),
        ValType::V128 => {
            if neg {
                bail!("a v128 argument is an unsigned 128-bit integer");
            }
            Val::V128(unsigned(u128::MAX)?)
        }
        ValType::Ref(r) => bail!("cannot pass a {r} from the command line"),
    })
}

/// A result as `wasmtime run --invoke` prints it.
pub fn format_val(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(b) => f32::from_bits(*b).to_string(),
        Val::F64(b) => f64::from_bits(*b).to_string(),
        Val::V128(x) => format!("{x:#034x}"),
        Val::FuncRef(None)
        | Val::ExternRef(None)
        | Val::ExnRef(None)
        | Val::ContRef(None)
        | Val::AnyRef(None) => "null".to_string(),
        Val::FuncRef(Some(_)) => "<funcref>".to_string(),
        Val::ExternRef(Some(_)) => "<externref>".to_string(),
        Val::ExnRef(Some(_)) => "<exnref>".to_string(),
        Val::ContRef(Some(_)) => "<contref>".to_string(),
        Val::AnyRef(Some(_)) => "<anyref>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ty: ValType, s: &str) -> Result<Val> {
        parse_arg(&ty, s)
    }

    #[test]
    fn integers() {
        assert!(matches!(p(ValType::I32, "20"), Ok(Val::I32(20))));
        assert!(matches!(
            p(ValType::I32, "-2147483648"),
            Ok(Val::I32(i32::MIN))
        ));
        assert!(matches!(p(ValType::I32, "4294967295"), Ok(Val::I32(-1))));
        assert!(matches!(p(ValType::I32, "0xff"), Ok(Val::I32(255))));
        assert!(p(ValType::I32, "4294967296").is_err());
        assert!(p(ValType::I32, "-2147483649").is_err());
        assert!(p(ValType::I32, "1.5").is_err());
        assert!(matches!(
            p(ValType::I64, "-9223372036854775808"),
            Ok(Val::I64(i64::MIN))
        ));
        assert!(matches!(
            p(ValType::I64, "18446744073709551615"),
            Ok(Val::I64(-1))
        ));
        assert!(matches!(p(ValType::I64, "1_000"), Ok(Val::I64(1000))));
    }

    #[test]
    fn floats_and_vectors() {
        assert!(matches!(p(ValType::F32, "1.5"), Ok(Val::F32(b)) if b == 1.5f32.to_bits()));
        assert!(
            matches!(p(ValType::F64, "-inf"), Ok(Val::F64(b)) if b == f64::NEG_INFINITY.to_bits())
        );
        assert!(p(ValType::F64, "one").is_err());
        assert!(matches!(p(ValType::V128, "0x1"), Ok(Val::V128(1))));
        assert!(p(ValType::FUNCREF, "0").is_err());
    }

    #[test]
    fn arity() {
        let e = parse_args("fib", &[ValType::I32], &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("takes 1 argument(s) (i32), but 0 were given"),
            "{e}"
        );
        let e = parse_args("fib", &[ValType::I32], &["x".into()]).unwrap_err();
        assert!(
            format!("{e:#}").contains("argument 1 of `fib` (`x`)"),
            "{e:#}"
        );
    }

    #[test]
    fn formatting() {
        assert_eq!(format_val(&Val::I32(-3)), "-3");
        assert_eq!(format_val(&Val::F64(2.5f64.to_bits())), "2.5");
        assert_eq!(format_val(&Val::FuncRef(None)), "null");
    }
}
