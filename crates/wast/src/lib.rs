//! A `.wast` script runner for weft.
//!
//! Scripts are parsed with the `wast` crate and executed with weft's public
//! embedding API only. Every directive is one test: [`WastRunner::run_file`]
//! returns how many passed and failed, with the line and reason of each
//! failure, so a script keeps going after a failed directive.
//!
//! ```no_run
//! let runner = weft_wast::WastRunner::new(weft::Config::new());
//! let report = runner.run_file("../shared/testsuite/i32.wast".as_ref())?;
//! println!("{} passed, {} failed", report.passed, report.failed);
//! for (line, message) in &report.failures {
//!     println!("  line {line}: {message}");
//! }
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! # Directives
//!
//! | directive | passes when |
//! |---|---|
//! | `module` (text, `binary`, `quote`; optional `$id`) | it compiles and instantiates; it becomes the current module (and `$id` names it) |
//! | `module definition [$id]` / `module instance [$inst] [$id]` | the definition compiles / the instantiation succeeds |
//! | `register "name" [$id]` | always (the instance's exports become importable as `"name"`) |
//! | `invoke`, `get` | the call does not trap / the global exists |
//! | `assert_return` | every result matches (see [`values`]) |
//! | `assert_trap` (invoke or module form), `assert_exhaustion` | the call or instantiation fails with the expected message (see [`messages`]) |
//! | `assert_invalid` | validation (or compilation) fails with the expected message |
//! | `assert_malformed` | the text cannot be parsed/encoded, or the binary is rejected; the message is not compared, since decoders legitimately notice a malformation at different points |
//! | `assert_unlinkable` | the module compiles and instantiation fails with the expected message |
//! | `assert_malformed_custom`, `assert_invalid_custom` | the text tooling rejects the custom annotation, or the engine accepts the module: custom sections never make a module malformed or invalid for an engine, and weft does not interpret branch hints or `@custom` contents |
//!
//! The spec's `assert_uninstantiable` is spelled `assert_trap (module ...)`
//! by the `wast` crate; it is handled as such. `thread`, `wait`,
//! `assert_exception`, `assert_suspension` and component-model scripts fail
//! with "unsupported directive ...".
//!
//! Each script runs on its own thread with a large native stack
//! ([`WastRunner::native_stack_size`], 64 MiB by default) so that the
//! deep-recursion tests measure the wasm stack limit, not the host's.

#![deny(missing_docs)]

mod context;
pub mod messages;
pub mod spectest;
pub mod values;

use anyhow::{Context as _, Result, anyhow};
use std::path::Path;

/// The outcome of one script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WastReport {
    /// Directives that passed.
    pub passed: usize,
    /// Directives that failed (including those not run after a panic).
    pub failed: usize,
    /// Directives not run because of [`WastRunner::validate_only`].
    pub skipped: usize,
    /// `(line, message)` of each failure, in script order. Lines are 1-based.
    pub failures: Vec<(usize, String)>,
}

impl WastReport {
    /// Whether nothing failed.
    pub fn is_ok(&self) -> bool {
        self.failed == 0
    }
}

/// Runs `.wast` scripts on a fresh engine and store per script.
#[derive(Debug, Clone)]
pub struct WastRunner {
    config: weft::Config,
    native_stack_size: usize,
    validate_only: bool,
    print: bool,
    precompiled: bool,
}

/// Default native stack of the thread a script runs on: 64 MiB.
pub const DEFAULT_NATIVE_STACK_SIZE: usize = 64 << 20;

impl WastRunner {
    /// A runner whose engines use `config`.
    pub fn new(config: weft::Config) -> WastRunner {
        WastRunner {
            config,
            native_stack_size: DEFAULT_NATIVE_STACK_SIZE,
            validate_only: false,
            print: false,
            precompiled: false,
        }
    }

    /// Size of the native stack of each script's thread.
    pub fn native_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.native_stack_size = bytes;
        self
    }

    /// Only run the directives that need no execution (`module` is
    /// validated instead of instantiated; `assert_invalid`,
    /// `assert_malformed` and their `_custom` forms run normally); every
    /// other directive is counted as skipped. Useful to check the validator
    /// against a corpus on its own.
    pub fn validate_only(&mut self, enable: bool) -> &mut Self {
        self.validate_only = enable;
        self
    }

    /// Passes every module through a precompiled artifact: compile with
    /// `Engine::precompile_module`, load with `Module::deserialize`, then
    /// run the directive as usual. A script then checks that precompiled
    /// code behaves exactly as freshly compiled code.
    pub fn precompiled(&mut self, enable: bool) -> &mut Self {
        self.precompiled = enable;
        self
    }

    /// Whether the `spectest` `print*` functions print their arguments.
    pub fn print(&mut self, enable: bool) -> &mut Self {
        self.print = enable;
        self
    }

    /// Runs the script at `path`. A script that cannot be read or parsed is
    /// an error naming the file (and line); failed directives are not.
    pub fn run_file(&self, path: &Path) -> Result<WastReport> {
        let text =
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
        let text = String::from_utf8(text).map_err(|e| {
            anyhow!(
                "{}: the script is not valid UTF-8 (at byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            )
        })?;
        self.run_str(&path.display().to_string(), &text)
    }

    /// Runs the script `text`; `name` is used in error messages.
    pub fn run_str(&self, name: &str, text: &str) -> Result<WastReport> {
        let runner = self.clone();
        let name_owned = name.to_string();
        let text = text.to_string();
        let handle = std::thread::Builder::new()
            .name(format!("wast {name}"))
            .stack_size(self.native_stack_size)
            .spawn(move || context::run_script(&runner, &name_owned, &text))
            .context("failed to spawn the script's thread")?;
        match handle.join() {
            Ok(result) => result,
            Err(panic) => Err(anyhow!(
                "{name}: the runner panicked: {}",
                context::panic_message(&*panic)
            )),
        }
    }

    pub(crate) fn config(&self) -> &weft::Config {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate_only() -> WastRunner {
        let mut r = WastRunner::new(weft::Config::new());
        r.validate_only(true);
        r
    }

    #[test]
    fn malformed_script_names_file_and_line() {
        let err = validate_only()
            .run_str(
                "bad.wast",
                "(module)\n\n(assert_return (invoke \"f\") (i32.const))\n",
            )
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("bad.wast:3:"), "{msg}");
    }

    #[test]
    fn validation_directives_run_without_an_engine() {
        let script = r#"
            (module (func (export "f") (result i32) i32.const 1))
            (assert_invalid (module (func (result i32) i64.const 1)) "type mismatch")
            (assert_invalid (module (func (result i32))) "this text does not match")
            (assert_invalid (module (func)) "type mismatch")
            (assert_malformed (module quote "(func (i32.const))") "unexpected token")
            (assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
            (assert_malformed (module binary "\00asm\01\00\00\00") "valid module")
            (assert_return (invoke "f") (i32.const 1))
            (thread $T (module))
        "#;
        let report = validate_only().run_str("t.wast", script).unwrap();
        assert_eq!(report.passed, 4, "{report:?}");
        assert_eq!(report.failed, 4, "{report:?}");
        assert_eq!(report.skipped, 1, "{report:?}");
        let lines: Vec<usize> = report.failures.iter().map(|f| f.0).collect();
        assert_eq!(lines, vec![4, 5, 8, 10], "{report:?}");
        assert!(
            report.failures[0].1.contains("this text does not match"),
            "{report:?}"
        );
        assert!(
            report.failures[1].1.contains("expected an invalid module"),
            "{report:?}"
        );
        assert!(
            report.failures[3]
                .1
                .contains("unsupported directive `thread`"),
            "{report:?}"
        );
    }

    #[test]
    fn custom_assertions() {
        let script = r#"
            (assert_malformed_custom (module quote "(@custom)") "@custom annotation: missing section name")
            (assert_invalid_custom (module (func)) "anything")
        "#;
        let report = validate_only().run_str("c.wast", script).unwrap();
        assert_eq!(report.passed, 2, "{report:?}");
    }
}
