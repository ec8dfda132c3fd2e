//! Executing one script's directives.

use crate::messages::error_matches;
use crate::values::{arg_to_val, describe_val, match_val};
use crate::{DirectiveResult, Outcome, WastReport, WastRunner};
use anyhow::{Result, bail};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};
use weft::{Engine, Extern, Instance, Linker, Module, Store, Val};

/// A directive's own verdict: `Err` is a failure with its reason.
type Verdict = Result<(), String>;

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// Parses and runs `text` (called on the script's own thread).
pub(crate) fn run_script(runner: &WastRunner, name: &str, text: &str) -> Result<WastReport> {
    // The legacy exception-handling tests use a folded `try` form the
    // parser no longer knows (see `crate::legacy`).
    let unfolded = crate::legacy::unfold_legacy_try(text);
    let text: &str = &unfolded;
    let adjust = |mut e: wast::Error| {
        e.set_path(name.as_ref());
        e.set_text(text);
        anyhow::Error::new(e)
    };
    let mut lexer = Lexer::new(text);
    // `names.wast` uses identifiers the lexer otherwise refuses as
    // confusable Unicode.
    lexer.allow_confusing_unicode(true);
    let buf = ParseBuffer::new_with_lexer(lexer).map_err(adjust)?;
    let wast = parser::parse::<Wast<'_>>(&buf).map_err(adjust)?;

    let mut cx = if runner.validate_only {
        Context::new_validate_only(runner)?
    } else {
        Context::new(runner)?
    };
    let mut report = WastReport::default();
    let mut directives = wast.directives.into_iter();
    while let Some(directive) = directives.next() {
        let line = directive.span().linecol_in(text).0 + 1;
        let kind = directive_kind(&directive);
        let outcome = catch_unwind(AssertUnwindSafe(|| cx.run_directive(directive)));
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(panic) => {
                // The store may be left inconsistent by a panic: stop here
                // and count what was not run as failed.
                let not_run = directives.len();
                let mut msg = format!("panicked: {}", panic_message(&*panic));
                if not_run > 0 {
                    msg.push_str(&format!(
                        " (script aborted: the {not_run} remaining directive(s) are counted as failed)"
                    ));
                }
                report.directives.push(DirectiveResult {
                    line,
                    kind,
                    outcome: Outcome::Failed(msg),
                });
                for rest in directives {
                    report.directives.push(DirectiveResult {
                        line: rest.span().linecol_in(text).0 + 1,
                        kind: directive_kind(&rest),
                        outcome: Outcome::NotRun,
                    });
                }
                break;
            }
        };
        report.directives.push(DirectiveResult {
            line,
            kind,
            outcome,
        });
    }
    Ok(report)
}

/// The keyword of a directive, as written in the script.
fn directive_kind(directive: &WastDirective<'_>) -> &'static str {
    use WastDirective as D;
    match directive {
        D::Module(_) => "module",
        D::ModuleDefinition(_) => "module definition",
        D::ModuleInstance { .. } => "module instance",
        D::AssertMalformed { .. } => "assert_malformed",
        D::AssertInvalid { .. } => "assert_invalid",
        D::AssertInvalidCustom { .. } => "assert_invalid_custom",
        D::AssertMalformedCustom { .. } => "assert_malformed_custom",
        D::Register { .. } => "register",
        D::Invoke(_) => "invoke",
        D::AssertTrap { .. } => "assert_trap",
        D::AssertReturn { .. } => "assert_return",
        D::AssertExhaustion { .. } => "assert_exhaustion",
        D::AssertUnlinkable { .. } => "assert_unlinkable",
        D::AssertException { .. } => "assert_exception",
        D::AssertSuspension { .. } => "assert_suspension",
        D::Thread(_) => "thread",
        D::Wait { .. } => "wait",
    }
}

/// The state of one script: its engine, store, linker and named modules.
struct Context {
    engine: Engine,
    /// Every module goes through a precompiled artifact
    /// ([`WastRunner::precompiled`]).
    precompiled: bool,
    /// `None` in validate-only mode.
    exec: Option<Exec>,
}

struct Exec {
    store: Store<()>,
    linker: Linker<()>,
    /// The most recent successfully instantiated module.
    current: Option<Instance>,
    /// Instances named by `(module $id ...)` or `(module instance $id ...)`.
    instances: HashMap<String, Instance>,
    /// `(module definition $id ...)`, plus the latest one under `None`.
    definitions: HashMap<Option<String>, Module>,
}

fn unsupported(what: &str, why: &str) -> Outcome {
    Outcome::Failed(format!("unsupported directive `{what}` ({why})"))
}

fn verdict(v: Verdict) -> Outcome {
    match v {
        Ok(()) => Outcome::Passed,
        Err(e) => Outcome::Failed(e),
    }
}

/// An error with its whole chain on one line, without the (multi-line)
/// wasm backtrace a trap may carry as context.
fn show(err: &anyhow::Error) -> String {
    let backtrace = err
        .downcast_ref::<weft::WasmBacktrace>()
        .map(|bt| bt.to_string());
    let parts: Vec<String> = err
        .chain()
        .map(|e| e.to_string())
        .filter(|m| Some(m) != backtrace.as_ref())
        .collect();
    parts.join(": ")
}

impl Context {
    fn new(runner: &WastRunner) -> Result<Context> {
        let engine = Engine::new(runner.config())?;
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        // Scripts redefine registered names (`register "M"` twice).
        linker.allow_shadowing(true);
        crate::spectest::link_spectest(&mut linker, &mut store, runner.print)?;
        Ok(Context {
            engine,
            precompiled: runner.precompiled,
            exec: Some(Exec {
                store,
                linker,
                current: None,
                instances: HashMap::new(),
                definitions: HashMap::new(),
            }),
        })
    }

    fn new_validate_only(runner: &WastRunner) -> Result<Context> {
        Ok(Context {
            engine: Engine::new(runner.config())?,
            precompiled: runner.precompiled,
            exec: None,
        })
    }

    fn run_directive(&mut self, directive: WastDirective<'_>) -> Outcome {
        use WastDirective as D;
        match directive {
            D::Module(mut wat) => {
                let name = wat.name().map(|id| id.name().to_string());
                let module = match self.module_from(&mut wat) {
                    Ok(m) => m,
                    Err(e) => {
                        self.forget_current();
                        return Outcome::Failed(format!("module failed to compile: {}", show(&e)));
                    }
                };
                let Some(module) = module else {
                    return Outcome::Passed; // validate-only
                };
                verdict(self.instantiate_current(name, &module))
            }
            D::ModuleDefinition(mut wat) => {
                let name = wat.name().map(|id| id.name().to_string());
                match self.module_from(&mut wat) {
                    Ok(Some(module)) => {
                        let exec = self.exec.as_mut().expect("not validate-only");
                        exec.definitions.insert(None, module.clone());
                        if name.is_some() {
                            exec.definitions.insert(name, module);
                        }
                        Outcome::Passed
                    }
                    Ok(None) => Outcome::Passed,
                    Err(e) => Outcome::Failed(format!(
                        "module definition failed to compile: {}",
                        show(&e)
                    )),
                }
            }
            D::ModuleInstance {
                instance, module, ..
            } => {
                let Some(exec) = self.exec.as_mut() else {
                    return Outcome::Skipped;
                };
                let key = module.map(|id| id.name().to_string());
                let Some(def) = exec.definitions.get(&key).cloned() else {
                    return Outcome::Failed(format!(
                        "no module definition {}",
                        key.map_or("(unnamed)".to_string(), |k| format!("${k}"))
                    ));
                };
                verdict(self.instantiate_current(instance.map(|id| id.name().to_string()), &def))
            }
            D::Register { name, module, .. } => {
                let Some(exec) = self.exec.as_mut() else {
                    return Outcome::Skipped;
                };
                verdict(exec.register(name, module.map(|id| id.name())))
            }
            D::Invoke(invoke) => {
                if self.exec.is_none() {
                    return Outcome::Skipped;
                }
                verdict(match self.invoke(&invoke) {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(format!("invoke `{}` failed: {}", invoke.name, show(&e))),
                    Err(e) => Err(e),
                })
            }
            D::AssertReturn { exec, results, .. } => {
                if self.exec.is_none() {
                    return Outcome::Skipped;
                }
                verdict(self.assert_return(exec, &results))
            }
            D::AssertTrap { exec, message, .. } => {
                if self.exec.is_none() {
                    return Outcome::Skipped;
                }
                verdict(self.assert_trap(exec, message))
            }
            D::AssertExhaustion { call, message, .. } => {
                if self.exec.is_none() {
                    return Outcome::Skipped;
                }
                verdict(match self.invoke(&call) {
                    Err(e) => Err(e),
                    Ok(Ok(vals)) => Err(format!(
                        "expected stack exhaustion (\"{message}\"), got results {}",
                        self.describe_vals(&vals)
                    )),
                    Ok(Err(e)) => expect_message(message, &e),
                })
            }
            D::AssertInvalid {
                mut module,
                message,
                ..
            } => verdict(self.assert_invalid(&mut module, message)),
            D::AssertMalformed { mut module, .. } => verdict(self.assert_malformed(&mut module)),
            D::AssertMalformedCustom { mut module, .. }
            | D::AssertInvalidCustom { mut module, .. } => verdict(self.assert_custom(&mut module)),
            D::AssertUnlinkable {
                mut module,
                message,
                ..
            } => {
                if self.exec.is_none() {
                    return Outcome::Skipped;
                }
                verdict(self.assert_unlinkable(&mut module, message))
            }
            D::AssertException { exec, .. } => {
                if self.exec.is_none() {
                    return Outcome::Skipped;
                }
                verdict(match self.execute(exec) {
                    Err(e) => Err(e),
                    Ok(Ok(vals)) => Err(format!(
                        "expected an uncaught exception, got results {}",
                        self.describe_vals(&vals)
                    )),
                    Ok(Err(e)) if e.downcast_ref::<weft::Exception>().is_some() => Ok(()),
                    Ok(Err(e)) => Err(format!("expected an uncaught exception, got: {}", show(&e))),
                })
            }
            D::AssertSuspension { exec, message, .. } => {
                if self.exec.is_none() {
                    return Outcome::Skipped;
                }
                // A suspension nobody handles reaches the host as the
                // `UnhandledTag` trap.
                verdict(match self.execute(exec) {
                    Err(e) => Err(e),
                    Ok(Ok(vals)) => Err(format!(
                        "expected a suspension (\"{message}\"), got results {}",
                        self.describe_vals(&vals)
                    )),
                    Ok(Err(e)) => match e.downcast_ref::<weft::Trap>() {
                        Some(weft::Trap::UnhandledTag) => expect_message(message, &e),
                        _ => Err(format!(
                            "expected a suspension (\"{message}\"), got: {}",
                            show(&e)
                        )),
                    },
                })
            }
            D::Thread(_) => unsupported("thread", "threads"),
            D::Wait { .. } => unsupported("wait", "threads"),
        }
    }

    /// After a failed `module`, later directives must not silently use
    /// the module before it.
    fn forget_current(&mut self) {
        if let Some(exec) = &mut self.exec {
            exec.current = None;
        }
    }

    /// Compiles a binary module, through a precompiled artifact (serialize,
    /// then load) when the runner asks for it.
    fn compile(&self, bytes: &[u8]) -> Result<Module> {
        if !self.precompiled {
            return Module::from_binary(&self.engine, bytes);
        }
        let artifact = self.engine.precompile_module(bytes)?;
        // SAFETY: the artifact was produced just now, by this engine.
        unsafe { Module::deserialize(&self.engine, &artifact) }
    }

    /// Encodes and compiles (or, validate-only, validates) a module.
    fn module_from(&self, wat: &mut QuoteWat<'_>) -> Result<Option<Module>> {
        let bytes = encode(wat)?;
        if self.exec.is_none() {
            Module::validate(&self.engine, &bytes)?;
            return Ok(None);
        }
        Ok(Some(self.compile(&bytes)?))
    }

    /// Instantiates `module` through the linker and makes it current.
    fn instantiate_current(&mut self, name: Option<String>, module: &Module) -> Verdict {
        let exec = self.exec.as_mut().expect("not validate-only");
        match exec.linker.instantiate(&mut exec.store, module) {
            Ok(instance) => {
                exec.current = Some(instance);
                if let Some(name) = name {
                    exec.instances.insert(name, instance);
                }
                Ok(())
            }
            Err(e) => {
                exec.current = None;
                Err(format!("instantiation failed: {}", show(&e)))
            }
        }
    }

    fn describe_vals(&self, vals: &[Val]) -> String {
        let exec = self.exec.as_ref().expect("not validate-only");
        let parts: Vec<String> = vals.iter().map(|v| describe_val(&exec.store, v)).collect();
        format!("[{}]", parts.join(", "))
    }

    /// Calls an export. The outer error is the script's fault (no such
    /// export, bad argument); the inner one is the call's own failure.
    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Result<Vec<Val>>, String> {
        let exec = self.exec.as_mut().expect("not validate-only");
        let instance = exec.instance(invoke.module.map(|id| id.name()))?;
        let func = match instance.get_export(&mut exec.store, invoke.name) {
            Some(Extern::Func(f)) => f,
            Some(_) => return Err(format!("export `{}` is not a function", invoke.name)),
            None => return Err(format!("no export named `{}`", invoke.name)),
        };
        let mut args = Vec::with_capacity(invoke.args.len());
        for arg in &invoke.args {
            match arg {
                WastArg::Core(core) => args.push(arg_to_val(&mut exec.store, core)?),
                _ => return Err("component-model arguments are not supported".to_string()),
            }
        }
        let ty = func.ty(&exec.store);
        let mut results: Vec<Val> = ty.results().iter().map(Val::default_for).collect();
        Ok(func
            .call(&mut exec.store, &args, &mut results)
            .map(|()| results))
    }

    /// Runs an `assert_return`/`assert_trap` action.
    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Result<Vec<Val>>, String> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Get { module, global, .. } => {
                let exec = self.exec.as_mut().expect("not validate-only");
                let instance = exec.instance(module.map(|id| id.name()))?;
                match instance.get_export(&mut exec.store, global) {
                    Some(Extern::Global(g)) => Ok(Ok(vec![g.get(&mut exec.store)])),
                    Some(_) => Err(format!("export `{global}` is not a global")),
                    None => Err(format!("no export named `{global}`")),
                }
            }
            WastExecute::Wat(mut wat) => {
                // `assert_trap (module ...)`: the module must compile; its
                // instantiation is the action (the spec's
                // `assert_uninstantiable`).
                let module = match wat_module(&mut wat).and_then(|bytes| self.compile(&bytes)) {
                    Ok(m) => m,
                    Err(e) => return Err(format!("module failed to compile: {}", show(&e))),
                };
                let exec = self.exec.as_mut().expect("not validate-only");
                Ok(exec
                    .linker
                    .instantiate(&mut exec.store, &module)
                    .map(|_| Vec::new()))
            }
        }
    }

    fn assert_return(&mut self, exec: WastExecute<'_>, expected: &[WastRet<'_>]) -> Verdict {
        let values = match self.execute(exec)? {
            Ok(v) => v,
            Err(e) => return Err(format!("expected a return, got error: {}", show(&e))),
        };
        if values.len() != expected.len() {
            return Err(format!(
                "expected {} result(s), got {}: {}",
                expected.len(),
                values.len(),
                self.describe_vals(&values)
            ));
        }
        let exec = self.exec.as_ref().expect("not validate-only");
        let mut errors = Vec::new();
        for (i, (v, e)) in values.iter().zip(expected).enumerate() {
            let WastRet::Core(e) = e else {
                return Err("component-model results are not supported".to_string());
            };
            if let Err(msg) = match_val(&exec.store, v, e) {
                errors.push(format!("result {i}: {msg}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn assert_trap(&mut self, exec: WastExecute<'_>, message: &str) -> Verdict {
        match self.execute(exec)? {
            Ok(values) => Err(format!(
                "expected trap \"{message}\", got results {}",
                self.describe_vals(&values)
            )),
            Err(e) => expect_message(message, &e),
        }
    }

    fn assert_invalid(&mut self, module: &mut QuoteWat<'_>, message: &str) -> Verdict {
        let bytes = match encode(module) {
            Ok(b) => b,
            // The text format already refuses some invalid modules (names
            // that do not resolve); that is not what the directive checks.
            Err(e) => return Err(format!("module text failed to encode: {}", show(&e))),
        };
        let err = match Module::validate(&self.engine, &bytes) {
            Err(e) => e,
            Ok(()) if self.exec.is_none() => {
                return Err(format!(
                    "expected an invalid module (\"{message}\"), but it validated"
                ));
            }
            Ok(()) => match self.compile(&bytes) {
                Err(e) => e,
                Ok(_) => {
                    return Err(format!(
                        "expected an invalid module (\"{message}\"), but it compiled"
                    ));
                }
            },
        };
        expect_message(message, &err)
    }

    fn assert_malformed(&mut self, module: &mut QuoteWat<'_>) -> Verdict {
        let bytes = match encode(module) {
            Ok(b) => b,
            Err(_) => return Ok(()), // rejected by the text parser
        };
        match Module::validate(&self.engine, &bytes) {
            Err(_) => Ok(()),
            Ok(()) => Err("expected a malformed module, but it validated".to_string()),
        }
    }

    fn assert_custom(&mut self, module: &mut QuoteWat<'_>) -> Verdict {
        let bytes = match encode(module) {
            Ok(b) => b,
            Err(_) => return Ok(()), // the text tooling rejected the annotation
        };
        let result = if self.exec.is_none() {
            Module::validate(&self.engine, &bytes)
        } else {
            self.compile(&bytes).map(drop)
        };
        result.map_err(|e| {
            format!(
                "a module whose only problem is in a custom section must still be accepted: {}",
                show(&e)
            )
        })
    }

    fn assert_unlinkable(&mut self, module: &mut Wat<'_>, message: &str) -> Verdict {
        let module = wat_module(module)
            .and_then(|bytes| self.compile(&bytes))
            .map_err(|e| format!("module failed to compile: {}", show(&e)))?;
        let exec = self.exec.as_mut().expect("not validate-only");
        match exec.linker.instantiate(&mut exec.store, &module) {
            Ok(_) => Err(format!(
                "expected a link error (\"{message}\"), but instantiation succeeded"
            )),
            Err(e) => expect_message(message, &e),
        }
    }
}

impl Exec {
    /// The instance named `$id`, or the current one.
    fn instance(&self, id: Option<&str>) -> Result<Instance, String> {
        match id {
            Some(id) => self
                .instances
                .get(id)
                .copied()
                .ok_or_else(|| format!("no module instance named ${id}")),
            None => self.current.ok_or_else(|| {
                "no current module (the last module failed or none was defined)".to_string()
            }),
        }
    }

    fn register(&mut self, as_name: &str, id: Option<&str>) -> Verdict {
        let instance = self.instance(id)?;
        self.linker
            .instance(&mut self.store, as_name, instance)
            .map(drop)
            .map_err(|e| format!("register failed: {}", show(&e)))
    }
}

fn expect_message(expected: &str, err: &anyhow::Error) -> Verdict {
    if error_matches(expected, err) {
        Ok(())
    } else {
        Err(format!("expected error \"{expected}\", got: {}", show(err)))
    }
}

/// The binary of a module directive (text, `binary` or `quote`).
fn encode(wat: &mut QuoteWat<'_>) -> Result<Vec<u8>> {
    if let QuoteWat::Wat(Wat::Component(_)) | QuoteWat::QuoteComponent(..) = wat {
        bail!("components are not supported");
    }
    Ok(wat.encode()?)
}

fn wat_module(wat: &mut Wat<'_>) -> Result<Vec<u8>> {
    match wat {
        Wat::Component(_) => bail!("components are not supported"),
        Wat::Module(_) => Ok(wat.encode()?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_drops_the_backtrace() {
        let bt = weft::WasmBacktrace {
            frames: vec![weft::FrameInfo {
                func_index: 3,
                func_name: Some("f".into()),
                module_name: None,
                module_offset: Some(0x40),
                code_offset: 4,
            }],
        };
        let err = anyhow::Error::new(weft::Trap::UnreachableCodeReached).context(bt);
        assert_eq!(show(&err), "unreachable");
        let err = anyhow::anyhow!("inner").context("outer");
        assert_eq!(show(&err), "outer: inner");
    }
}
