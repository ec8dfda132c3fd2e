//! Matching the spec's expected error texts against weft's errors.
//!
//! An expected text matches when it is a substring of any message in the
//! error's chain (the error itself, each context, the [`weft::Trap`]), or
//! when one of the documented [`ALIASES`] applies. Aliases exist where the
//! spec interpreter's wording carries detail, or names a condition, that a
//! compiled engine reports differently while meaning the same failure. Each
//! alias is one-way: from the spec's text to an accepted engine text.

/// One accepted rewording: when the script expects `expected` (exactly, or
/// as a prefix when `prefix` is set), an error message containing `accepted`
/// matches too.
#[derive(Debug, Clone, Copy)]
pub struct Alias {
    /// The spec's text.
    pub expected: &'static str,
    /// Whether `expected` is matched as a prefix of the script's text.
    pub prefix: bool,
    /// A substring the engine's message may contain instead.
    pub accepted: &'static str,
    /// Why the two mean the same.
    pub reason: &'static str,
}

/// Every alias the runner accepts.
pub const ALIASES: &[Alias] = &[
    Alias {
        expected: "non-continuation type",
        prefix: true,
        accepted: "non-continuation type",
        reason: "the spec interpreter names the offending type index \
                 (`non-continuation type 0`); wasmparser's message does not",
    },
    Alias {
        expected: "non-continuation type",
        prefix: true,
        accepted: "type mismatch between tag type and label type",
        reason: "a resume handler label whose last type is not a continuation: the spec \
                 interpreter reports the non-continuation type, wasmparser the mismatch \
                 between the tag's and the label's types that it causes",
    },
    Alias {
        expected: "sub type",
        prefix: true,
        accepted: "sub type must match super type",
        reason: "the spec interpreter names both type indices (`sub type 4 does not match \
                 super type 2`); wasmparser's message does not",
    },
    Alias {
        expected: "uninitialized element",
        prefix: true,
        accepted: "uninitialized element",
        reason: "`bulk.wast` expects `uninitialized element 2`: the spec interpreter names the \
                 table index, a compiled engine's trap code does not carry it",
    },
    Alias {
        expected: "undefined element",
        prefix: false,
        accepted: "out of bounds table access",
        reason: "`call_indirect`/`table.init` with an index past the table's end: the spec \
                 interpreter says `undefined element`, weft reports the failed table bounds \
                 check (Trap::TableOutOfBounds)",
    },
    Alias {
        expected: "indirect call type mismatch",
        prefix: false,
        accepted: "signature mismatch",
        reason: "the signature check of `call_indirect`, worded after the function's signature \
                 rather than its type",
    },
    Alias {
        expected: "null function reference",
        prefix: false,
        accepted: "null reference",
        reason: "`call_ref` on null: weft has one null-reference trap (Trap::NullReference)",
    },
    Alias {
        expected: "null function reference",
        prefix: false,
        accepted: "uninitialized element",
        reason: "`call_ref`/`return_call_ref` on null may share the null-entry check of \
                 `call_indirect` (Trap::IndirectCallToNull)",
    },
    Alias {
        expected: "null structure reference",
        prefix: false,
        accepted: "null reference",
        reason: "GC accessors on null: one null-reference trap for every heap type",
    },
    Alias {
        expected: "null array reference",
        prefix: false,
        accepted: "null reference",
        reason: "GC accessors on null: one null-reference trap for every heap type",
    },
    Alias {
        expected: "null i31 reference",
        prefix: false,
        accepted: "null reference",
        reason: "GC accessors on null: one null-reference trap for every heap type",
    },
    Alias {
        expected: "null descriptor reference",
        prefix: false,
        accepted: "null reference",
        reason: "custom-descriptors accessors on null: one null-reference trap",
    },
    Alias {
        expected: "call stack exhausted",
        prefix: false,
        accepted: "stack overflow",
        reason: "`assert_exhaustion`: the stack-limit check may be reported as a stack overflow",
    },
    Alias {
        expected: "out of bounds memory access",
        prefix: false,
        accepted: "memory access out of bounds",
        reason: "the same bounds check, reworded (data segments at instantiation, loads/stores)",
    },
    Alias {
        expected: "unknown import",
        prefix: false,
        accepted: "has not been defined",
        reason: "linker wording for an import no module provides",
    },
    Alias {
        expected: "incompatible import type",
        prefix: false,
        accepted: "incompatible import",
        reason: "instantiation wording for an import of the wrong kind or type, e.g. \
                 `incompatible import for `m`.`f``",
    },
    Alias {
        expected: "incompatible import type",
        prefix: false,
        accepted: "import type mismatch",
        reason: "instantiation wording for an import of the wrong kind or type",
    },
    // Validation wording: wasmparser phrases a few errors differently from
    // the spec interpreter.
    Alias {
        expected: "type mismatch",
        prefix: true,
        accepted: "type mismatch",
        reason: "the spec interpreter details the stacks (`type mismatch: instruction requires \
                 [i32] but stack has []`); wasmparser details them in its own words",
    },
    Alias {
        expected: "invalid lane index",
        prefix: false,
        accepted: "SIMD index out of bounds",
        reason: "wasmparser's wording for a lane immediate past the vector's lane count",
    },
    Alias {
        expected: "immutable global",
        prefix: false,
        accepted: "global is immutable",
        reason: "wasmparser's wording for `global.set` on a constant global",
    },
    Alias {
        expected: "immutable array",
        prefix: false,
        accepted: "array is immutable",
        reason: "wasmparser's wording for writes to an immutable array type (GC)",
    },
    Alias {
        expected: "immutable field",
        prefix: false,
        accepted: "field is immutable",
        reason: "wasmparser's wording for `struct.set` on an immutable field (GC)",
    },
    // Custom descriptors: wasmparser checks the descriptor/describes pairing
    // and names the failed rule where the spec interpreter names the types.
    Alias {
        expected: "descriptor type is outside rec group",
        prefix: false,
        accepted: "unknown type",
        reason: "a `descriptor` clause naming a later group: wasmparser reports the index as not yet \
                 defined",
    },
    Alias {
        expected: "descriptor type is outside rec group",
        prefix: false,
        accepted: "descriptor with no matching describes",
        reason: "a `descriptor` clause naming an earlier group's type: that type's `describes` cannot \
                 point back, which is what wasmparser reports",
    },
    Alias {
        expected: "described type is outside rec group",
        prefix: false,
        accepted: "forward describes reference",
        reason: "a `describes` clause naming a later group: wasmparser reports the forward reference",
    },
    Alias {
        expected: "described type is outside rec group",
        prefix: false,
        accepted: "describes with no matching descriptor",
        reason: "a `describes` clause naming an earlier group's type: that type's `descriptor` cannot \
                 point back, which is what wasmparser reports",
    },
    Alias {
        expected: "type is not described by its descriptor",
        prefix: false,
        accepted: "descriptor with no matching describes",
        reason: "the same unpaired `descriptor` clause, named from the descriptor's side",
    },
    Alias {
        expected: "described type is not described by descriptor",
        prefix: false,
        accepted: "describes with no matching descriptor",
        reason: "the same unpaired `describes` clause, named from the described type's side",
    },
    Alias {
        expected: "forward use of described type",
        prefix: false,
        accepted: "forward describes reference",
        reason: "wasmparser's wording for a `describes` clause naming a later type of the group",
    },
    Alias {
        expected: "descriptor type must be a struct",
        prefix: false,
        accepted: "descriptor clause on non-struct type",
        reason: "wasmparser's wording for a `descriptor` clause on (or naming) an array or function type",
    },
    Alias {
        expected: "described type must be a struct",
        prefix: false,
        accepted: "describes clause on non-struct type",
        reason: "wasmparser's wording for a `describes` clause on (or naming) an array or function type",
    },
    Alias {
        expected: "sub type",
        prefix: true,
        accepted: "supertype of type without descriptor cannot have descriptor",
        reason: "a subtype whose descriptor or describes clause breaks its supertype's: the spec \
                 interpreter reports the failed match (`sub type 2 does not match super type 0`), \
                 wasmparser the clause that breaks it",
    },
    Alias {
        expected: "sub type",
        prefix: true,
        accepted: "supertype of descriptor must be a descriptor",
        reason: "a subtype whose descriptor or describes clause breaks its supertype's: the spec \
                 interpreter reports the failed match (`sub type 2 does not match super type 0`), \
                 wasmparser the clause that breaks it",
    },
    Alias {
        expected: "sub type",
        prefix: true,
        accepted: "supertype of non-descriptor type cannot be a descriptor",
        reason: "a subtype whose descriptor or describes clause breaks its supertype's: the spec \
                 interpreter reports the failed match (`sub type 2 does not match super type 0`), \
                 wasmparser the clause that breaks it",
    },
    Alias {
        expected: "sub type",
        prefix: true,
        accepted: "sub type with descriptor must have super type with descriptor",
        reason: "a subtype whose descriptor or describes clause breaks its supertype's: the spec \
                 interpreter reports the failed match (`sub type 2 does not match super type 0`), \
                 wasmparser the clause that breaks it",
    },
    Alias {
        expected: "descriptor type",
        prefix: true,
        accepted: "supertype of described type must be described by supertype of descriptor",
        reason: "`descriptor type 3 does not match`: the subtype's descriptor is not a subtype of the \
                 supertype's descriptor, in wasmparser's words",
    },
    Alias {
        expected: "described type",
        prefix: true,
        accepted: "supertype of descriptor does not match",
        reason: "`described type 2 does not match`: the descriptor's supertype does not describe the \
                 described type's supertype, in wasmparser's words",
    },
    Alias {
        expected: "type any does not have a descriptor",
        prefix: false,
        accepted: "unexpected heap type",
        reason: "`ref.cast_desc_eq`/`br_on_cast_desc_eq` to an abstract heap type: wasmparser rejects \
                 the heap type itself",
    },
    Alias {
        expected: "type none does not have a descriptor",
        prefix: false,
        accepted: "unexpected heap type",
        reason: "`ref.cast_desc_eq`/`br_on_cast_desc_eq` to an abstract heap type: wasmparser rejects \
                 the heap type itself",
    },
    Alias {
        expected: "type 0 does not have a descriptor",
        prefix: false,
        accepted: "cast target must have descriptor",
        reason: "`ref.cast_desc_eq`/`br_on_cast_desc_eq` to a type without a descriptor: the spec \
                 interpreter names the type index, wasmparser does not",
    },
    Alias {
        expected: "type 1 does not have a descriptor",
        prefix: false,
        accepted: "cast target must have descriptor",
        reason: "`ref.cast_desc_eq`/`br_on_cast_desc_eq` to a type without a descriptor: the spec \
                 interpreter names the type index, wasmparser does not",
    },
    Alias {
        expected: "type without descriptor",
        prefix: false,
        accepted: "expected type with descriptor",
        reason: "`ref.get_desc` of a type without a descriptor, in wasmparser's words",
    },
    Alias {
        expected: "type without descriptor requires non-descriptor allocation",
        prefix: false,
        accepted: "is not described",
        reason: "`struct.new_desc` of a type without a descriptor: wasmparser says the type `is not \
                 described`",
    },
];

/// Whether `actual` (one message) satisfies the script's `expected` text.
pub fn message_matches(expected: &str, actual: &str) -> bool {
    if actual.contains(expected) {
        return true;
    }
    ALIASES.iter().any(|a| {
        let applies = if a.prefix {
            expected.starts_with(a.expected)
        } else {
            expected == a.expected
        };
        applies && actual.contains(a.accepted)
    })
}

/// The messages of an error's chain, outermost first: each context and
/// cause, then the full `{:#}` rendering (which also covers errors whose
/// `Display` omits their source).
pub fn error_messages(err: &anyhow::Error) -> Vec<String> {
    let mut out: Vec<String> = err.chain().map(|e| e.to_string()).collect();
    if let Some(trap) = err.downcast_ref::<weft::Trap>() {
        out.push(trap.message().to_string());
    }
    out.push(format!("{err:#}"));
    out
}

/// Whether any message in `err`'s chain satisfies `expected`.
pub fn error_matches(expected: &str, err: &anyhow::Error) -> bool {
    error_messages(err)
        .iter()
        .any(|m| message_matches(expected, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn exact_and_substring() {
        assert!(message_matches("unreachable", "unreachable"));
        assert!(message_matches(
            "out of bounds memory access",
            "wasm trap: out of bounds memory access at 0x10"
        ));
        assert!(!message_matches(
            "integer overflow",
            "integer divide by zero"
        ));
    }

    #[test]
    fn numbered_uninitialized_element() {
        assert!(message_matches(
            "uninitialized element 2",
            "uninitialized element"
        ));
        assert!(message_matches(
            "uninitialized element",
            "uninitialized element"
        ));
        assert!(!message_matches(
            "uninitialized element 2",
            "out of bounds table access"
        ));
    }

    #[test]
    fn undefined_element_is_table_bounds() {
        assert!(message_matches(
            "undefined element",
            "out of bounds table access"
        ));
        // Not the other way round.
        assert!(!message_matches(
            "out of bounds table access",
            "undefined element"
        ));
        assert!(!message_matches(
            "undefined element",
            "uninitialized element"
        ));
    }

    #[test]
    fn null_references() {
        for e in [
            "null function reference",
            "null structure reference",
            "null array reference",
            "null i31 reference",
            "null descriptor reference",
        ] {
            assert!(message_matches(e, "null reference"), "{e}");
        }
        assert!(message_matches(
            "null function reference",
            "uninitialized element"
        ));
        assert!(!message_matches(
            "null array reference",
            "uninitialized element"
        ));
    }

    #[test]
    fn link_errors() {
        assert!(message_matches(
            "unknown import",
            "unknown import: `spectest`.`foo` (function) has not been defined"
        ));
        assert!(message_matches(
            "unknown import",
            "`m`.`f` has not been defined"
        ));
        assert!(message_matches(
            "incompatible import type",
            "incompatible import type for `m`.`f`: expected (func), found (func (param i32))"
        ));
        assert!(message_matches(
            "incompatible import type",
            "import type mismatch for `m`.`g`"
        ));
        assert!(!message_matches(
            "incompatible import type",
            "unknown import"
        ));
        assert!(!message_matches(
            "unknown import",
            "incompatible import type"
        ));
    }

    #[test]
    fn validation_aliases() {
        assert!(message_matches(
            "type mismatch: instruction requires [i32] but stack has []",
            "type mismatch: expected i32 but nothing on stack (at offset 0x20)"
        ));
        assert!(!message_matches("type mismatch: x", "unknown global"));
        assert!(message_matches(
            "invalid lane index",
            "SIMD index out of bounds (at offset 0x2a)"
        ));
        assert!(message_matches(
            "immutable global",
            "global is immutable: cannot modify it with `global.set`"
        ));
        assert!(message_matches(
            "immutable array",
            "invalid array modification: array is immutable"
        ));
        assert!(message_matches(
            "immutable field",
            "struct field is immutable"
        ));
    }

    #[test]
    fn other_aliases() {
        assert!(message_matches(
            "indirect call type mismatch",
            "indirect call signature mismatch"
        ));
        assert!(message_matches(
            "call stack exhausted",
            "wasm stack overflow"
        ));
        assert!(message_matches(
            "out of bounds memory access",
            "memory access out of bounds"
        ));
    }

    #[test]
    fn every_alias_is_documented_and_used() {
        for a in ALIASES {
            assert!(!a.reason.is_empty());
            let expected = if a.prefix {
                format!("{} 7", a.expected)
            } else {
                a.expected.to_string()
            };
            assert!(message_matches(&expected, a.accepted), "{a:?}");
        }
    }

    #[test]
    fn chain_and_trap() {
        let err = anyhow::Error::new(weft::Trap::MemoryOutOfBounds).context("instantiation failed");
        assert!(error_matches("out of bounds memory access", &err));
        assert!(!error_matches("unreachable", &err));

        let err: anyhow::Error = Err::<(), _>(anyhow::anyhow!("type mismatch: expected i32"))
            .context("failed to compile")
            .unwrap_err();
        assert!(error_matches("type mismatch", &err));
    }
}
