//! `weft run`: instantiate a module and call an export.
//!
//! Minimal for now: no WASI, so the module may only import nothing.
//! `--invoke NAME ARGS...` parses each argument according to the
//! function's parameter type and prints each result on its own line, like
//! `wasmtime run --invoke`. Without `--invoke`, `_start` is called when it
//! is exported (otherwise instantiation, including the start function, is
//! the whole run).

use crate::options::CommonOptions;
use anyhow::{Context as _, Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;
use weft::{Engine, Instance, Module, Store, Val, ValType};

#[derive(clap::Args, Debug)]
pub struct RunCommand {
    #[command(flatten)]
    pub(crate) common: CommonOptions,

    /// Call this exported function instead of `_start`.
    #[arg(long, value_name = "NAME")]
    pub(crate) invoke: Option<String>,

    /// The module to run (`.wasm` or `.wat`).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,

    /// Arguments: with `--invoke`, the function's arguments (one per
    /// parameter, parsed by type).
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub(crate) args: Vec<String>,
}

impl RunCommand {
    pub fn execute(self) -> Result<ExitCode> {
        let config = self.common.config()?;
        let engine = Engine::new(&config)?;
        let module = Module::from_file(&engine, &self.file)?;
        if let Some(import) = module.imports().next() {
            bail!(
                "{} imports `{}`.`{}` ({}), but `weft run` provides no imports yet (WASI is not \
                 implemented)",
                self.file.display(),
                import.module(),
                import.name(),
                import.ty().kind()
            );
        }
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[])
            .with_context(|| format!("failed to instantiate {}", self.file.display()))?;

        let name = match &self.invoke {
            Some(name) => name.clone(),
            None => {
                if !self.args.is_empty() {
                    bail!(
                        "program arguments need WASI, which is not implemented yet; use \
                         `--invoke NAME` to pass arguments to a function"
                    );
                }
                if instance.get_func(&mut store, "_start").is_none() {
                    return Ok(ExitCode::SUCCESS);
                }
                "_start".to_string()
            }
        };
        let func = instance.get_func(&mut store, &name).with_context(|| {
            format!("{} has no exported function `{name}`", self.file.display())
        })?;
        let ty = func.ty(&store);
        let params = parse_args(&name, ty.params(), &self.args)?;
        let mut results: Vec<Val> = ty.results().iter().map(Val::default_for).collect();
        func.call(&mut store, &params, &mut results)
            .with_context(|| format!("failed to invoke `{name}`"))?;
        for r in &results {
            println!("{}", format_val(r));
        }
        Ok(ExitCode::SUCCESS)
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
        Val::FuncRef(None) | Val::ExternRef(None) => "null".to_string(),
        Val::FuncRef(Some(_)) => "<funcref>".to_string(),
        Val::ExternRef(Some(_)) => "<externref>".to_string(),
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
