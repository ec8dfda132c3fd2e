//! The `weft` command-line tool.
//!
//! ```text
//! weft run [OPTIONS] FILE [ARGS...]     run a module (`--invoke NAME` to call an export)
//! weft wast [OPTIONS] FILE...           run .wast spec scripts
//! weft compile [OPTIONS] FILE           validate and compile a module, report the time
//! weft compile [OPTIONS] FILE -o OUT    write a precompiled module (`weft run
//!                                       --allow-precompiled OUT` loads it)
//! ```
//!
//! Options shared by all commands follow wasmtime's spelling where they
//! exist there: `-W key=value[,key=value...]` for wasm settings and
//! `-O opt-level=N` (or `--opt-level N`) for the code generator.

mod options;
mod run;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use options::CommonOptions;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// weft: a WebAssembly runtime built for stack switching.
#[derive(Parser, Debug)]
#[command(name = "weft", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a WebAssembly module (`.wasm` or `.wat`).
    Run(run::RunCommand),
    /// Run `.wast` spec test scripts.
    Wast(WastCommand),
    /// Validate and compile a module, reporting success and time taken, or
    /// with `-o` write it precompiled.
    Compile(CompileCommand),
}

#[derive(clap::Args, Debug)]
struct WastCommand {
    #[command(flatten)]
    common: CommonOptions,

    /// Only run the directives that need no execution (module validation,
    /// `assert_invalid`, `assert_malformed`); count the others as skipped.
    #[arg(long)]
    validate_only: bool,

    /// Let the `spectest` `print*` functions print their arguments.
    #[arg(long)]
    print: bool,

    /// Native stack size of each script's thread, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = weft_wast::DEFAULT_NATIVE_STACK_SIZE)]
    native_stack: usize,

    /// Scripts to run.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct CompileCommand {
    #[command(flatten)]
    common: CommonOptions,

    /// Write the compiled module here (a precompiled `.cwasm` artifact for
    /// `weft run --allow-precompiled` or `Module::deserialize_file`).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,

    /// The module to compile (`.wasm` or `.wat`).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(cmd) => cmd.execute(),
        Command::Wast(cmd) => cmd.execute(),
        Command::Compile(cmd) => cmd.execute(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl WastCommand {
    fn execute(self) -> Result<ExitCode> {
        let config = self.common.config()?;
        if self.common.store_options()? != Default::default() {
            anyhow::bail!("`-W fuel` and `-W max-memory-size` apply to `weft run` only");
        }
        let mut runner = weft_wast::WastRunner::new(config);
        runner
            .validate_only(self.validate_only)
            .print(self.print)
            .native_stack_size(self.native_stack);
        let (mut passed, mut failed, mut skipped, mut errors) = (0, 0, 0, 0);
        for file in &self.files {
            match runner.run_file(file) {
                Ok(report) => {
                    let mut line = format!(
                        "{}: {} passed, {} failed",
                        file.display(),
                        report.passed(),
                        report.failed()
                    );
                    if report.skipped() > 0 {
                        line.push_str(&format!(", {} skipped", report.skipped()));
                    }
                    println!("{line}");
                    for (l, msg) in report.failures() {
                        println!("  {}:{l}: {msg}", file.display());
                    }
                    passed += report.passed();
                    failed += report.failed();
                    skipped += report.skipped();
                }
                Err(e) => {
                    println!("{}: error: {e:#}", file.display());
                    errors += 1;
                }
            }
        }
        let mut total = format!("{passed} passed, {failed} failed");
        if skipped > 0 {
            total.push_str(&format!(", {skipped} skipped"));
        }
        if errors > 0 {
            total.push_str(&format!(", {errors} script(s) could not be run"));
        }
        println!("{total}");
        Ok(if failed == 0 && errors == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

impl CompileCommand {
    fn execute(self) -> Result<ExitCode> {
        let config = self.common.config()?;
        let engine = weft::Engine::new(&config)?;
        let start = Instant::now();
        if let Some(out) = &self.output {
            let bytes = std::fs::read(&self.file)
                .with_context(|| format!("failed to read {}", self.file.display()))?;
            let artifact = engine
                .precompile_module(&bytes)
                .with_context(|| format!("failed to compile {}", self.file.display()))?;
            std::fs::write(out, artifact)
                .with_context(|| format!("failed to write {}", out.display()))?;
            return Ok(ExitCode::SUCCESS);
        }
        weft::Module::from_file(&engine, &self.file)?;
        let elapsed = start.elapsed();
        println!(
            "{}: compiled in {:.3} ms",
            self.file.display(),
            elapsed.as_secs_f64() * 1000.0
        );
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("weft").chain(args.iter().copied()))
    }

    #[test]
    fn run_invoke_after_file() {
        let Command::Run(r) = parse(&["run", "examples/fib.wat", "--invoke", "fib", "20"])
            .unwrap()
            .command
        else {
            panic!("not run")
        };
        assert_eq!(r.invoke.as_deref(), Some("fib"));
        assert_eq!(r.args, vec!["20"]);
    }

    #[test]
    fn run_invoke_before_file_and_negative_args() {
        let Command::Run(r) = parse(&["run", "--invoke", "add", "m.wat", "-1", "2"])
            .unwrap()
            .command
        else {
            panic!("not run")
        };
        assert_eq!(r.invoke.as_deref(), Some("add"));
        assert_eq!(r.file, PathBuf::from("m.wat"));
        assert_eq!(r.args, vec!["-1", "2"]);
    }

    #[test]
    fn wast_options() {
        let Command::Wast(w) = parse(&[
            "wast",
            "-W",
            "max-wasm-stack=1048576",
            "--opt-level",
            "0",
            "a.wast",
            "b.wast",
        ])
        .unwrap()
        .command
        else {
            panic!("not wast")
        };
        assert_eq!(w.files.len(), 2);
        w.common.config().unwrap();
    }

    #[test]
    fn bad_command_lines() {
        assert!(parse(&["wast"]).is_err());
        assert!(parse(&["run", "--bogus", "x.wat"]).is_err());
        assert!(parse(&["compile"]).is_err());
        assert!(parse(&["compile", "a.wat", "-o"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
    }
}
