//! Writing a module and an [`Outcome`] as a `.wast` script that asserts
//! every part of the outcome the fuzzer compares:
//!
//! ```text
//! (module ...)                                   the case, as text
//! (assert_return (invoke "f" args) results)      one per call, in order
//! (assert_trap (invoke "g" args) "message")
//! (assert_return (get "global") value)           every exported global
//! (register "fuzz")
//! (module (import "fuzz" "mem" (memory 0)) ...)  reads every exported
//! (assert_return (invoke "pages 0") ...)         memory's size and FNV-1a
//! (assert_return (invoke "hash 0") ...)          hash and every exported
//! (assert_return (invoke "size 0") ...)          table's size
//! ```
//!
//! (An instantiation that traps is one `assert_trap` of the module.) Used
//! for regression files (the oracle's outcome) and for the wasmtime
//! tie-break (weft's outcome), where a part that cannot be written makes
//! the script an error rather than a weaker check.

use crate::exec::{Outcome, Step, Value};
use std::fmt::Write as _;

/// A wast string literal for `s`: printable ASCII as is, every other byte
/// (and `"`, `\`) as a `\hh` escape, so any export name round-trips.
pub fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\{b:02x}");
        }
    }
    out.push('"');
    out
}

/// Types of a module's exported memories and tables, read from its binary.
#[derive(Debug, Default)]
struct ExportTypes {
    /// Exported memory name -> is it a 64-bit memory.
    memories: Vec<(String, bool)>,
    /// Exported table name -> (is it 64-bit, element type as text).
    tables: Vec<(String, bool, String)>,
}

fn export_types(wasm: &[u8]) -> Result<ExportTypes, String> {
    use wasmparser::{ExternalKind, Payload};
    let mut memories: Vec<bool> = Vec::new();
    let mut tables: Vec<(bool, wasmparser::RefType)> = Vec::new();
    let mut out = ExportTypes::default();
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| format!("parse: {e}"))? {
            // Cases have no imports (`max_imports: 0`; wasm-smith may
            // still emit an empty import section): a module with some is
            // refused rather than indexed wrongly.
            Payload::ImportSection(s) if s.count() != 0 => {
                return Err("imports are not handled".into());
            }
            Payload::MemorySection(s) => {
                for m in s {
                    memories.push(m.map_err(|e| format!("parse: {e}"))?.memory64);
                }
            }
            Payload::TableSection(s) => {
                for t in s {
                    let t = t.map_err(|e| format!("parse: {e}"))?.ty;
                    tables.push((t.table64, t.element_type));
                }
            }
            Payload::ExportSection(s) => {
                for e in s {
                    let e = e.map_err(|e| format!("parse: {e}"))?;
                    exports.push((e.name.to_string(), e.kind, e.index as usize));
                }
            }
            _ => {}
        }
    }
    for (name, kind, index) in exports {
        match kind {
            ExternalKind::Memory => {
                let m64 = *memories.get(index).ok_or("memory export out of range")?;
                out.memories.push((name, m64));
            }
            ExternalKind::Table => {
                let (t64, rt) = *tables.get(index).ok_or("table export out of range")?;
                let elem = if rt == wasmparser::RefType::FUNCREF {
                    "funcref"
                } else if rt == wasmparser::RefType::EXTERNREF {
                    "externref"
                } else {
                    return Err(format!("table element type {rt:?} not written"));
                };
                out.tables.push((name, t64, elem.to_string()));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A module that imports every exported memory and table of the module
/// registered as "fuzz" and exports their sizes and contents' hashes, with
/// assertions of `outcome`'s values for them.
fn checker(wasm: &[u8], outcome: &Outcome) -> Result<String, String> {
    if outcome.memories.is_empty() && outcome.tables.is_empty() {
        return Ok(String::new());
    }
    let types = export_types(wasm)?;
    // Text format: imports before definitions.
    let (mut imports, mut funcs, mut asserts) = (String::new(), String::new(), String::new());
    for (k, (name, len, hash)) in outcome.memories.iter().enumerate() {
        let &(_, m64) = types
            .memories
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| format!("memory {name:?} is not exported"))?;
        let (it, ext) = if m64 {
            ("i64", "")
        } else {
            ("i32", "i64.extend_i32_u")
        };
        let _ = writeln!(
            imports,
            "  (import \"fuzz\" {} (memory $m{k} {it} 0))",
            string(name)
        );
        let _ = write!(
            funcs,
            "  (func (export \"pages {k}\") (result i64) memory.size $m{k} {ext})\n\
             \x20 (func (export \"hash {k}\") (result i64) (local $i {it}) (local $n {it}) (local $h i64)\n\
             \x20   (local.set $h (i64.const 0xcbf29ce484222325))\n\
             \x20   (local.set $n ({it}.mul (memory.size $m{k}) ({it}.const 65536)))\n\
             \x20   (block $done (loop $l\n\
             \x20     (br_if $done ({it}.ge_u (local.get $i) (local.get $n)))\n\
             \x20     (local.set $h (i64.mul (i64.xor (local.get $h) (i64.load8_u $m{k} (local.get $i)))\n\
             \x20       (i64.const 0x100000001b3)))\n\
             \x20     (local.set $i ({it}.add (local.get $i) ({it}.const 1)))\n\
             \x20     (br $l)))\n\
             \x20   (local.get $h))\n",
        );
        if len % 65536 != 0 {
            return Err(format!("memory {name:?} is {len} bytes, not whole pages"));
        }
        let _ = writeln!(
            asserts,
            "(assert_return (invoke \"pages {k}\") (i64.const {}))\n\
             (assert_return (invoke \"hash {k}\") (i64.const {}))",
            len / 65536,
            *hash as i64
        );
    }
    for (k, (name, size)) in outcome.tables.iter().enumerate() {
        let (_, t64, elem) = types
            .tables
            .iter()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| format!("table {name:?} is not exported"))?;
        let (it, ext) = if *t64 {
            ("i64", "")
        } else {
            ("i32", "i64.extend_i32_u")
        };
        let _ = writeln!(
            imports,
            "  (import \"fuzz\" {} (table $t{k} {it} 0 {elem}))",
            string(name)
        );
        let _ = writeln!(
            funcs,
            "  (func (export \"size {k}\") (result i64) table.size $t{k} {ext})"
        );
        let _ = writeln!(
            asserts,
            "(assert_return (invoke \"size {k}\") (i64.const {}))",
            *size as i64
        );
    }
    Ok(format!(
        "(register \"fuzz\")\n(module\n{imports}{funcs})\n{asserts}"
    ))
}

/// The script for `wasm` asserting `outcome`, after `header` (comment
/// lines). With `strict`, an outcome part no assertion can express (an
/// error that is not a trap) is an error; without, it becomes a comment
/// (for regression files, which a person reads).
pub fn script(
    wasm: &[u8],
    outcome: &Outcome,
    header: &str,
    strict: bool,
) -> Result<String, String> {
    let text = wasmprinter::print_bytes(wasm).map_err(|e| format!("wasmprinter: {e}"))?;
    let mut s = String::from(header);
    match &outcome.instantiation {
        Some(Step::Trapped(t)) => {
            let _ = writeln!(s, "(assert_trap\n{text}\n  \"{}\")", t.message());
            return Ok(s);
        }
        Some(other) if strict => {
            return Err(format!("instantiation {other:?} cannot be asserted"));
        }
        Some(other) => {
            let _ = writeln!(s, "{text}\n;; instantiation: {other:?}");
            return Ok(s);
        }
        None => {
            let _ = writeln!(s, "{text}");
        }
    }
    for (name, args, step) in &outcome.calls {
        let args: Vec<String> = args.iter().map(Value::to_string).collect();
        let invoke = format!("(invoke {} {})", string(name), args.join(" "));
        match step {
            Step::Returned(vals) => {
                let vals: Vec<String> = vals.iter().map(Value::to_string).collect();
                let _ = writeln!(s, "(assert_return {invoke} {})", vals.join(" "));
            }
            Step::Trapped(t) => {
                let _ = writeln!(s, "(assert_trap {invoke} \"{}\")", t.message());
            }
            Step::Failed(e) if strict => {
                return Err(format!("call {name:?}: {e} cannot be asserted"));
            }
            Step::Failed(e) => {
                let _ = writeln!(s, ";; {invoke}: {}", e.replace('\n', " "));
            }
        }
    }
    for (name, value) in &outcome.globals {
        let _ = writeln!(s, "(assert_return (get {}) {value})", string(name));
    }
    match checker(wasm, outcome) {
        Ok(c) => s.push_str(&c),
        Err(e) if strict => return Err(e),
        Err(e) => {
            let _ = writeln!(s, ";; memories and tables not checked: {e}");
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_everything_unusual() {
        assert_eq!(string("a b"), "\"a b\"");
        assert_eq!(string("\"\\\0\n"), "\"\\22\\5c\\00\\0a\"");
        assert_eq!(string("é"), "\"\\c3\\a9\"");
    }
}
