//! The folded form of the legacy exception-handling `try`, which the
//! `wast` crate (263) no longer parses:
//!
//! ```text
//!   (try $l? bt (do instr*) (catch $t instr*)* (catch_all instr*)? )
//!   (try $l? bt (do instr*) (delegate l))
//! ```
//!
//! The crate still parses the flat form (`try bt instr* catch $t instr*
//! ... end`, `try bt instr* delegate l`), and flat instructions may appear
//! anywhere a folded one may. [`unfold_legacy_try`] rewrites the first into
//! the second in place: parentheses and `do` become spaces, a `try`'s
//! closing parenthesis becomes `end` (nothing after `delegate`). Only
//! newlines are kept exactly, so line numbers of directives do not change.
//! Strings and comments are copied untouched (a `module quote` whose text
//! uses the folded form is therefore still rejected, as the spec's
//! malformed-module tests expect of their ill-formed variants).

use std::borrow::Cow;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    /// A folded `try`; whether it ended with `delegate`.
    Try { delegate: bool },
    /// `(do ...)`, `(catch ...)`, `(catch_all ...)`, `(delegate ...)`
    /// directly inside a folded `try`.
    Clause,
    /// Anything else.
    Other,
}

fn is_delim(c: u8) -> bool {
    c.is_ascii_whitespace() || c == b'(' || c == b')' || c == b'"' || c == b';'
}

/// The keyword that starts at `i` (up to a delimiter).
fn word_at(b: &[u8], i: usize) -> &[u8] {
    let mut j = i;
    while j < b.len() && !is_delim(b[j]) {
        j += 1;
    }
    &b[i..j]
}

/// Rewrites every folded legacy `try` in `text` into the flat form (see
/// the module docs). Returns `text` itself when there is none.
pub fn unfold_legacy_try(text: &str) -> Cow<'_, str> {
    if !text.contains("(try") {
        return Cow::Borrowed(text);
    }
    let b = text.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len() + 64);
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        // Strings, copied verbatim.
        if c == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            out.extend_from_slice(&b[start..i]);
            continue;
        }
        // Line comments.
        if c == b';' && b.get(i + 1) == Some(&b';') {
            let start = i;
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            out.extend_from_slice(&b[start..i]);
            continue;
        }
        // Block comments, which nest.
        if c == b'(' && b.get(i + 1) == Some(&b';') {
            let start = i;
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'(' && b.get(i + 1) == Some(&b';') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b';' && b.get(i + 1) == Some(&b')') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.extend_from_slice(&b[start..i.min(b.len())]);
            continue;
        }
        if c == b'(' {
            let mut k = i + 1;
            while k < b.len() && b[k].is_ascii_whitespace() {
                k += 1;
            }
            let word = word_at(b, k);
            let in_try = matches!(stack.last(), Some(Open::Try { .. }));
            match word {
                b"try" => {
                    stack.push(Open::Try { delegate: false });
                    out.push(b' ');
                }
                b"do" if in_try => {
                    stack.push(Open::Clause);
                    // "(" and the whitespace up to "do", then "do" itself.
                    out.extend(
                        b[i..k]
                            .iter()
                            .map(|c| if *c == b'\n' { b'\n' } else { b' ' }),
                    );
                    out.extend_from_slice(b"  ");
                    i = k + 2;
                    continue;
                }
                b"catch" | b"catch_all" | b"delegate" if in_try => {
                    if word == b"delegate"
                        && let Some(Open::Try { delegate }) = stack.last_mut()
                    {
                        *delegate = true;
                    }
                    stack.push(Open::Clause);
                    out.push(b' ');
                }
                _ => {
                    stack.push(Open::Other);
                    out.push(b'(');
                }
            }
            i += 1;
            continue;
        }
        if c == b')' {
            match stack.pop() {
                Some(Open::Try { delegate: false }) => out.extend_from_slice(b" end "),
                Some(Open::Try { delegate: true }) | Some(Open::Clause) => out.push(b' '),
                Some(Open::Other) | None => out.push(b')'),
            }
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    // Only ASCII bytes were replaced by ASCII bytes: still UTF-8.
    Cow::Owned(String::from_utf8(out).expect("rewriting keeps UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_try_becomes_flat() {
        let src = "(func (try (result i32) (do (i32.const 1)) (catch $e (i32.const 2)) (catch_all (i32.const 3))))";
        let out = unfold_legacy_try(src);
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(
            words.join(" "),
            "(func try (result i32) (i32.const 1) catch $e (i32.const 2) catch_all (i32.const 3) end )"
        );
    }

    #[test]
    fn delegate_has_no_end_and_lines_are_kept() {
        let src = "(try $l\n (do\n (nop))\n (delegate $l))\n;; (try in a comment\n\"(try\"";
        let out = unfold_legacy_try(src);
        assert_eq!(out.lines().count(), src.lines().count());
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(
            words.join(" "),
            "try $l (nop) delegate $l ;; (try in a comment \"(try\""
        );
    }

    #[test]
    fn nested_and_untouched() {
        assert!(matches!(
            unfold_legacy_try("(block (nop))"),
            Cow::Borrowed(_)
        ));
        let out = unfold_legacy_try("(try (do (try (do) (catch_all))) (catch_all (rethrow 0)))");
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(
            words.join(" "),
            "try try catch_all end catch_all (rethrow 0) end"
        );
    }
}
