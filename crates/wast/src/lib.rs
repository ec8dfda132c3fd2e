//! A `.wast` script runner for weft.
//!
//! Scripts are parsed with the `wast` crate and executed with weft's public
//! embedding API only. Every directive is one test: [`WastRunner::run_file`]
//! returns the [`Outcome`] of each directive with its line, so a script
//! keeps going after a failed directive and a caller can count failures
//! exactly.
//!
//! ```no_run
//! let runner = weft_wast::WastRunner::new(weft::Config::new());
//! let report = runner.run_file("../shared/testsuite/i32.wast".as_ref())?;
//! println!("{} passed, {} failed", report.passed(), report.failed());
//! for (line, message) in report.failures() {
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
//! by the `wast` crate; it is handled as such. `assert_exception` passes
//! when the call fails with an uncaught wasm exception (an error that
//! downcasts to `weft::Exception`). `thread`, `wait`, `assert_suspension`
//! and component-model scripts fail with "unsupported directive ...".
//!
//! Each script runs on its own thread with a large native stack
//! ([`WastRunner::native_stack_size`], 64 MiB by default) so that the
//! deep-recursion tests measure the wasm stack limit, not the host's.

#![deny(missing_docs)]

mod context;
pub mod legacy;
pub mod messages;
pub mod spectest;
pub mod values;

use anyhow::{Context as _, Result, anyhow};
use std::path::Path;

/// What became of one directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The directive passed.
    Passed,
    /// The directive failed, for this reason.
    Failed(String),
    /// Not run because of [`WastRunner::validate_only`].
    Skipped,
    /// Not run because an earlier directive panicked (the store may be
    /// inconsistent); counted as failed.
    NotRun,
}

/// One directive of a script and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectiveResult {
    /// 1-based line of the directive.
    pub line: usize,
    /// The directive's keyword, e.g. `assert_return` or `module`.
    pub kind: &'static str,
    /// What became of it.
    pub outcome: Outcome,
}

impl DirectiveResult {
    /// Whether this directive counts as failed ([`Outcome::Failed`] or
    /// [`Outcome::NotRun`]).
    pub fn is_failure(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_) | Outcome::NotRun)
    }
}

/// The outcome of one script: one [`DirectiveResult`] per directive, in
/// script order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WastReport {
    /// Every directive of the script, in order.
    pub directives: Vec<DirectiveResult>,
}

impl WastReport {
    /// Directives that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| *o == Outcome::Passed)
    }

    /// Directives that failed, including those not run after a panic.
    pub fn failed(&self) -> usize {
        self.directives.iter().filter(|d| d.is_failure()).count()
    }

    /// Directives not run because of [`WastRunner::validate_only`].
    pub fn skipped(&self) -> usize {
        self.count(|o| *o == Outcome::Skipped)
    }

    /// `(line, reason)` of each failure, in script order. Directives not
    /// run after a panic are not listed one by one: the panicking
    /// directive's reason says how many were not run.
    pub fn failures(&self) -> impl Iterator<Item = (usize, &str)> {
        self.directives.iter().filter_map(|d| match &d.outcome {
            Outcome::Failed(msg) => Some((d.line, msg.as_str())),
            _ => None,
        })
    }

    /// Whether nothing failed.
    pub fn is_ok(&self) -> bool {
        self.failed() == 0
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.directives.iter().filter(|d| f(&d.outcome)).count()
    }
}

/// The number of top-level forms of a script, counted without parsing
/// them: a way to count the directives of a script the `wast` parser
/// rejects (every one of them fails). Skips comments (`;;`, nested
/// `(; ;)`) and strings. `None` if the parentheses do not balance, a string
/// or block comment is not closed, or text stands outside any form.
pub fn count_top_level_forms(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut i, mut depth, mut forms) = (0, 0usize, 0);
    while i < bytes.len() {
        match bytes[i] {
            b';' if bytes.get(i + 1) == Some(&b';') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' if bytes.get(i + 1) == Some(&b';') => {
                let mut nest = 1;
                i += 2;
                while nest > 0 {
                    match (bytes.get(i)?, bytes.get(i + 1)) {
                        (b'(', Some(b';')) => (nest, i) = (nest + 1, i + 2),
                        (b';', Some(b')')) => (nest, i) = (nest - 1, i + 2),
                        _ => i += 1,
                    }
                }
                continue;
            }
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i)? {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'(' => {
                if depth == 0 {
                    forms += 1;
                }
                depth += 1;
            }
            b')' => depth = depth.checked_sub(1)?,
            c if depth == 0 && !c.is_ascii_whitespace() => return None,
            _ => {}
        }
        i += 1;
    }
    (depth == 0).then_some(forms)
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
        assert_eq!(report.passed(), 4, "{report:?}");
        assert_eq!(report.failed(), 4, "{report:?}");
        assert_eq!(report.skipped(), 1, "{report:?}");
        let failures: Vec<(usize, &str)> = report.failures().collect();
        let lines: Vec<usize> = failures.iter().map(|f| f.0).collect();
        assert_eq!(lines, vec![4, 5, 8, 10], "{report:?}");
        assert!(
            failures[0].1.contains("this text does not match"),
            "{report:?}"
        );
        assert!(
            failures[1].1.contains("expected an invalid module"),
            "{report:?}"
        );
        assert!(
            failures[3].1.contains("unsupported directive `thread`"),
            "{report:?}"
        );
        let kinds: Vec<&str> = report.directives.iter().map(|d| d.kind).collect();
        assert_eq!(
            kinds,
            [
                "module",
                "assert_invalid",
                "assert_invalid",
                "assert_invalid",
                "assert_malformed",
                "assert_malformed",
                "assert_malformed",
                "assert_return",
                "thread"
            ],
            "{report:?}"
        );
        assert_eq!(report.directives[7].outcome, Outcome::Skipped);
    }

    #[test]
    fn top_level_forms_skip_comments_and_strings() {
        let script = r#"
            ;; a comment with ( parens
            (module (func (export "f)") (result i32) i32.const 1))
            (; block (; nested ;) comment ( ;)
            (assert_return (invoke "f)" ) (i32.const 1)) ;; trailing (
            (assert_malformed (module quote "(\")\"") "x")
        "#;
        assert_eq!(count_top_level_forms(script), Some(3));
        assert_eq!(count_top_level_forms(""), Some(0));
        assert_eq!(count_top_level_forms("(module"), None);
        assert_eq!(count_top_level_forms("(module))"), None);
        assert_eq!(count_top_level_forms("(module \"abc)"), None);
        assert_eq!(count_top_level_forms("(module) junk"), None);
        assert_eq!(count_top_level_forms("(; open"), None);
    }

    #[test]
    fn custom_assertions() {
        let script = r#"
            (assert_malformed_custom (module quote "(@custom)") "@custom annotation: missing section name")
            (assert_invalid_custom (module (func)) "anything")
        "#;
        let report = validate_only().run_str("c.wast", script).unwrap();
        assert_eq!(report.passed(), 2, "{report:?}");
    }
}
