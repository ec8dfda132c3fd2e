//! Options shared by every command: `-W key=value` wasm settings and the
//! optimisation level, parsed wasmtime-style.

use anyhow::{Result, bail};
use weft::{Config, OptLevel};

/// `-W` keys: name, value kind, help.
const WASM_KEYS: &[(&str, &str, &str)] = &[
    (
        "max-wasm-stack",
        "N",
        "maximum native stack, in bytes, wasm code may use",
    ),
    (
        "async-stack-size",
        "N",
        "size, in bytes, of the fiber stack of each async call (embedding API; default 2 MiB)",
    ),
    (
        "continuation-stack-size",
        "N",
        "address space, in bytes, of each continuation stack (header and red zone included; default 256 KiB, at least 16 KiB; weft only)",
    ),
    (
        "fuel",
        "N",
        "give the guest N units of fuel (one per instruction); it traps when they run out",
    ),
    (
        "max-memory-size",
        "N",
        "largest size, in bytes, any linear memory may grow to",
    ),
    ("multi-memory", "y|n", "the multi-memory proposal"),
    ("memory64", "y|n", "the memory64 proposal"),
    (
        "simd",
        "y|n",
        "fixed-width SIMD (also turns relaxed SIMD off when disabled)",
    ),
    ("relaxed-simd", "y|n", "relaxed SIMD"),
    ("tail-call", "y|n", "the tail-call proposal"),
    ("function-references", "y|n", "typed function references"),
    ("exceptions", "y|n", "exception handling (Wasm 3.0)"),
    (
        "stack-switching",
        "y|n",
        "the stack-switching proposal (typed continuations)",
    ),
    ("gc", "y|n", "the GC proposal"),
    (
        "custom-descriptors",
        "y|n",
        "the custom-descriptors extension of GC (exact types, descriptors; weft only)",
    ),
];

#[derive(clap::Args, Debug, Clone, Default)]
pub struct CommonOptions {
    /// WebAssembly settings, `-W key=value[,key=value...]`; `-W help` lists
    /// the keys. Booleans accept y/n/yes/no/true/false (a bare key is yes).
    #[arg(short = 'W', value_name = "KEY[=VAL[,..]]")]
    wasm: Vec<String>,

    /// Code generator options, `-O opt-level=0|1|2|s` (wasmtime style).
    #[arg(short = 'O', value_name = "KEY=VAL[,..]")]
    optimize: Vec<String>,

    /// Cranelift optimisation level: 0 (none), 1 or 2 (speed), s (speed and
    /// size). Same as `-O opt-level=...`.
    #[arg(long, value_name = "LEVEL")]
    opt_level: Option<String>,

    /// Compilation options, `-C cache=y|n` (wasmtime style): whether
    /// `weft run` keeps compiled code in the cache directory
    /// (`$XDG_CACHE_HOME/weft`, else `~/.cache/weft`). Default yes.
    #[arg(short = 'C', value_name = "KEY=VAL[,..]")]
    codegen: Vec<String>,
}

fn parse_bool(flag: &str, key: &str, value: Option<&str>) -> Result<bool> {
    match value {
        None | Some("y" | "yes" | "true") => Ok(true),
        Some("n" | "no" | "false") => Ok(false),
        Some(v) => {
            bail!("invalid value `{v}` for `{flag} {key}`: expected y, n, yes, no, true or false")
        }
    }
}

fn parse_size(key: &str, value: Option<&str>) -> Result<usize> {
    let Some(v) = value else {
        bail!("`-W {key}` needs a value, e.g. `-W {key}=8388608`");
    };
    let v = v.replace('_', "");
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => usize::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.map_err(|_| {
        anyhow::anyhow!("invalid value `{v}` for `-W {key}`: expected a number of bytes")
    })
}

fn parse_opt_level(v: &str) -> Result<OptLevel> {
    Ok(match v {
        "0" | "none" => OptLevel::None,
        "1" | "2" | "speed" => OptLevel::Speed,
        "s" | "speed-and-size" => OptLevel::SpeedAndSize,
        _ => bail!("invalid optimization level `{v}`: expected 0, 1, 2 or s"),
    })
}

fn key_list() -> String {
    WASM_KEYS
        .iter()
        .map(|(k, v, h)| format!("  -W {:<24} {h}", format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Per-store settings from `-W`: what the store running the guest is
/// given rather than what the engine compiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// `-W fuel=N`.
    pub fuel: Option<u64>,
    /// `-W max-memory-size=N`.
    pub max_memory_size: Option<usize>,
}

impl StoreOptions {
    /// The store limits to install, if any limit was given.
    pub fn limits(&self) -> Option<weft::StoreLimits> {
        let max = self.max_memory_size?;
        Some(weft::StoreLimitsBuilder::new().memory_size(max).build())
    }

    /// Applies the fuel setting to a store of an engine made with
    /// [`CommonOptions::config`].
    pub fn apply_fuel<T>(&self, store: &mut weft::Store<T>) -> Result<()> {
        if let Some(fuel) = self.fuel {
            store.set_fuel(fuel)?;
        }
        Ok(())
    }
}

impl CommonOptions {
    /// The last value given for `-W key=...`, parsed as a size.
    fn size_setting(&self, key: &str) -> Result<Option<usize>> {
        let mut out = None;
        for group in &self.wasm {
            for item in group.split(',') {
                if let Some((k, v)) = item.split_once('=')
                    && k.trim() == key
                {
                    out = Some(parse_size(key, Some(v.trim()))?);
                }
            }
        }
        Ok(out)
    }

    /// The `-W max-wasm-stack` value, if given (the last one wins).
    pub fn max_wasm_stack(&self) -> Result<Option<usize>> {
        self.size_setting("max-wasm-stack")
    }

    /// The per-store settings (`-W fuel`, `-W max-memory-size`).
    pub fn store_options(&self) -> Result<StoreOptions> {
        Ok(StoreOptions {
            fuel: self.size_setting("fuel")?.map(|f| f as u64),
            max_memory_size: self.size_setting("max-memory-size")?,
        })
    }

    /// Whether the code cache is wanted (`-C cache=y|n`, the last one wins;
    /// default yes).
    pub fn cache(&self) -> Result<bool> {
        let mut cache = true;
        for group in &self.codegen {
            for item in group.split(',').filter(|s| !s.is_empty()) {
                let (key, value) = match item.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim())),
                    None => (item.trim(), None),
                };
                match key {
                    "cache" => cache = parse_bool("-C", key, value)?,
                    _ => bail!("unknown `-C` setting `{key}`; available: `-C cache=y|n`"),
                }
            }
        }
        Ok(cache)
    }

    /// The engine configuration these options describe (without the code
    /// cache, which only `weft run` turns on).
    pub fn config(&self) -> Result<Config> {
        self.cache()?;
        let mut config = Config::new();
        for group in &self.wasm {
            for item in group.split(',').filter(|s| !s.is_empty()) {
                let (key, value) = match item.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim())),
                    None => (item.trim(), None),
                };
                match key {
                    "help" => bail!("available `-W` settings:\n{}", key_list()),
                    "max-wasm-stack" => {
                        config.max_wasm_stack(parse_size(key, value)?);
                    }
                    "async-stack-size" => {
                        config.async_stack_size(parse_size(key, value)?);
                    }
                    "continuation-stack-size" => {
                        config.continuation_stack_size(parse_size(key, value)?);
                    }
                    "fuel" => {
                        parse_size(key, value)?;
                        config.consume_fuel(true);
                    }
                    "max-memory-size" => {
                        parse_size(key, value)?;
                    }
                    "multi-memory" => {
                        config.wasm_multi_memory(parse_bool("-W", key, value)?);
                    }
                    "memory64" => {
                        config.wasm_memory64(parse_bool("-W", key, value)?);
                    }
                    "simd" => {
                        config.wasm_simd(parse_bool("-W", key, value)?);
                    }
                    "relaxed-simd" => {
                        config.wasm_relaxed_simd(parse_bool("-W", key, value)?);
                    }
                    "tail-call" => {
                        config.wasm_tail_call(parse_bool("-W", key, value)?);
                    }
                    "function-references" => {
                        config.wasm_function_references(parse_bool("-W", key, value)?);
                    }
                    "exceptions" => {
                        config.wasm_exceptions(parse_bool("-W", key, value)?);
                    }
                    "stack-switching" => {
                        config.wasm_stack_switching(parse_bool("-W", key, value)?);
                    }
                    "gc" => {
                        config.wasm_gc(parse_bool("-W", key, value)?);
                    }
                    "custom-descriptors" => {
                        config.wasm_custom_descriptors(parse_bool("-W", key, value)?);
                    }
                    _ => bail!(
                        "unknown `-W` setting `{key}`; available settings:\n{}",
                        key_list()
                    ),
                }
            }
        }
        for group in &self.optimize {
            for item in group.split(',').filter(|s| !s.is_empty()) {
                match item.split_once('=') {
                    Some(("opt-level", v)) => {
                        config.cranelift_opt_level(parse_opt_level(v)?);
                    }
                    _ => bail!("unknown `-O` setting `{item}`; available: `-O opt-level=0|1|2|s`"),
                }
            }
        }
        if let Some(level) = &self.opt_level {
            config.cranelift_opt_level(parse_opt_level(level)?);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(w: &[&str]) -> CommonOptions {
        CommonOptions {
            wasm: w.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn max_wasm_stack() {
        let c = opts(&["max-wasm-stack=8388608"]).config().unwrap();
        assert!(format!("{c:?}").contains("max_wasm_stack: 8388608"));
        let c = opts(&["max-wasm-stack=0x1000,simd=n"]).config().unwrap();
        assert!(format!("{c:?}").contains("max_wasm_stack: 4096"));
    }

    #[test]
    fn stack_sizes() {
        let c = opts(&["continuation-stack-size=65536,async-stack-size=0x400000"])
            .config()
            .unwrap();
        let debug = format!("{c:?}");
        assert!(
            debug.contains("cont_stacks: ContStackConfig { stack_size: 65536"),
            "{debug}"
        );
        assert!(debug.contains("async_stack_size: 4194304"), "{debug}");
        // Out-of-range sizes are refused when the engine is made, naming
        // the setting.
        let c = opts(&["continuation-stack-size=4096"]).config().unwrap();
        let Err(e) = weft::Engine::new(&c) else {
            panic!("a 4 KiB continuation stack was accepted");
        };
        assert!(
            e.to_string()
                .contains("continuation_stack_size (4096 bytes)"),
            "{e}"
        );
        let e = opts(&["continuation-stack-size"]).config().unwrap_err();
        assert!(e.to_string().contains("needs a value"), "{e}");
    }

    #[test]
    fn store_settings() {
        let o = opts(&["fuel=1_000,max-memory-size=0x10000", "simd=n"]);
        assert!(format!("{:?}", o.config().unwrap()).contains("consume_fuel: true"));
        assert_eq!(
            o.store_options().unwrap(),
            StoreOptions {
                fuel: Some(1000),
                max_memory_size: Some(65536)
            }
        );
        let o = opts(&["simd=n"]);
        assert!(format!("{:?}", o.config().unwrap()).contains("consume_fuel: false"));
        assert_eq!(o.store_options().unwrap(), StoreOptions::default());
        let e = opts(&["fuel=lots"]).config().unwrap_err().to_string();
        assert!(e.contains("invalid value `lots` for `-W fuel`"), "{e}");
        let e = opts(&["max-memory-size"]).config().unwrap_err().to_string();
        assert!(e.contains("needs a value"), "{e}");
    }

    #[test]
    fn errors_are_clear() {
        let e = opts(&["no-such-key=1"]).config().unwrap_err().to_string();
        assert!(e.contains("unknown `-W` setting `no-such-key`"), "{e}");
        assert!(e.contains("max-wasm-stack"), "{e}");
        let e = opts(&["max-wasm-stack=lots"])
            .config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid value `lots`"), "{e}");
        let e = opts(&["max-wasm-stack"]).config().unwrap_err().to_string();
        assert!(e.contains("needs a value"), "{e}");
        let e = opts(&["simd=maybe"]).config().unwrap_err().to_string();
        assert!(e.contains("expected y, n"), "{e}");
        let e = CommonOptions {
            opt_level: Some("3".into()),
            ..Default::default()
        }
        .config()
        .unwrap_err()
        .to_string();
        assert!(e.contains("invalid optimization level `3`"), "{e}");
    }

    #[test]
    fn cache_option() {
        let c = |v: &[&str]| CommonOptions {
            codegen: v.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert!(c(&[]).cache().unwrap());
        assert!(!c(&["cache=n"]).cache().unwrap());
        assert!(c(&["cache=n", "cache=y"]).cache().unwrap());
        assert!(c(&["cache"]).cache().unwrap());
        let e = c(&["cache=maybe"]).cache().unwrap_err().to_string();
        assert!(e.contains("`-C cache`"), "{e}");
        let e = c(&["frob=1"]).config().unwrap_err().to_string();
        assert!(e.contains("unknown `-C` setting `frob`"), "{e}");
    }

    #[test]
    fn bare_key_means_yes() {
        opts(&["memory64"]).config().unwrap();
        opts(&["tail-call=no,function-references=true"])
            .config()
            .unwrap();
    }
}
