//! Script values: turning `.wast` arguments into [`weft::Val`]s and matching
//! results against the script's expected patterns.
//!
//! Matching rules (the spec interpreter's, restricted to what
//! [`weft::Val`] can represent):
//!
//! | pattern | matches |
//! |---|---|
//! | `i32.const N`, `i64.const N` | the same bits |
//! | `f32.const X`, `f64.const X` | the same bits (NaN payload and sign included) |
//! | `nan:canonical` | a NaN whose payload is exactly the quiet bit (either sign) |
//! | `nan:arithmetic` | a NaN with the quiet bit set (any payload, either sign) |
//! | `v128.const SHAPE ...` | lane by lane in that shape; float lanes may be NaN patterns |
//! | `ref.null` (no heap type) | any null reference |
//! | `ref.null func`/`nofunc` | a null `funcref` |
//! | `ref.null extern`/`noextern` | a null `externref` |
//! | `ref.null exn`/`noexn` | a null `exnref` |
//! | `ref.null HT` (any other heap type, or a type index) | any null reference: `Val` has no variant for the `any` hierarchy, and nulls of those types surface as [`Val::null_ref`] makes them |
//! | `ref.extern` | any non-null `externref` |
//! | `ref.extern N` | an `externref` whose host payload is [`HostRef`]`(N)` |
//! | `ref.func` / `ref.func IDX` | any non-null `funcref` (the public API cannot map a `Func` back to its index, so `IDX` is not checked) |
//! | `ref.host N`, `ref.any`, `ref.eq`, `ref.struct`, `ref.array`, `ref.i31` | never: GC references cannot be represented by `weft::Val` yet (reported as a failure naming the missing API) |
//! | `either P...` | any of the alternatives |

use std::fmt::Write as _;
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern};
use wast::core::{WastArgCore, WastRetCore};
use weft::{AsContext, AsContextMut, ExternRef, RefType, Val};

/// The host value behind the script's `ref.extern N`: the runner moves one
/// into the store with [`ExternRef::new`] for every such argument, and
/// `ref.extern N` results match by comparing this payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostRef(pub u32);

/// Converts a script argument to a value of `store`.
pub fn arg_to_val(mut store: impl AsContextMut, arg: &WastArgCore<'_>) -> Result<Val, String> {
    Ok(match arg {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(ht) => Val::null_ref(&RefType {
            nullable: true,
            heap: null_heap_type(ht),
        }),
        WastArgCore::RefExtern(n) => {
            Val::ExternRef(Some(ExternRef::new(store.as_context_mut(), HostRef(*n))))
        }
        WastArgCore::RefHost(n) => {
            let e = ExternRef::new(store.as_context_mut(), HostRef(*n));
            Val::AnyRef(Some(
                weft::AnyRef::from_extern(store.as_context_mut(), e).map_err(|e| e.to_string())?,
            ))
        }
    })
}

/// The hierarchy a script `ref.null` argument belongs to, as a weft heap
/// type (only the func/extern distinction matters for [`Val::null_ref`]).
fn null_heap_type(ht: &HeapType<'_>) -> weft::HeapType {
    match ht {
        HeapType::Abstract { ty, .. } => match ty {
            AbstractHeapType::Func => weft::HeapType::Func,
            AbstractHeapType::NoFunc => weft::HeapType::NoFunc,
            AbstractHeapType::Extern => weft::HeapType::Extern,
            AbstractHeapType::NoExtern => weft::HeapType::NoExtern,
            AbstractHeapType::Any => weft::HeapType::Any,
            AbstractHeapType::Eq => weft::HeapType::Eq,
            AbstractHeapType::I31 => weft::HeapType::I31,
            AbstractHeapType::Struct => weft::HeapType::Struct,
            AbstractHeapType::Array => weft::HeapType::Array,
            AbstractHeapType::None => weft::HeapType::None,
            AbstractHeapType::Exn => weft::HeapType::Exn,
            AbstractHeapType::NoExn => weft::HeapType::NoExn,
            // Continuations have no weft heap type yet; their nulls are not
            // extern references, which is all `null_ref` looks at.
            AbstractHeapType::Cont | AbstractHeapType::NoCont => weft::HeapType::Any,
        },
        // A type index: a function type or a GC type, both outside the
        // extern hierarchy.
        HeapType::Concrete(_) | HeapType::Exact(_) => weft::HeapType::Func,
    }
}

/// Checks one result against its expected pattern. The error describes the
/// mismatch.
pub fn match_val(
    store: impl AsContext,
    actual: &Val,
    expected: &WastRetCore<'_>,
) -> Result<(), String> {
    let store = store.as_context();
    match_val_inner(&store, actual, expected)
}

fn match_val_inner<C: AsContext>(
    store: &C,
    actual: &Val,
    expected: &WastRetCore<'_>,
) -> Result<(), String> {
    let mismatch = || {
        Err(format!(
            "expected {}, got {}",
            describe_pattern(expected),
            describe_val(store, actual)
        ))
    };
    let ok = match (expected, actual) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(p), Val::F32(a)) => f32_matches(p, *a),
        (WastRetCore::F64(p), Val::F64(a)) => f64_matches(p, *a),
        (WastRetCore::V128(p), Val::V128(a)) => return v128_matches(p, *a),
        (WastRetCore::RefNull(ht), a) => null_matches(ht.as_ref(), a),
        (WastRetCore::RefExtern(n), Val::ExternRef(Some(r))) => match n {
            None => true,
            Some(n) => r.data(store).downcast_ref::<HostRef>() == Some(&HostRef(*n)),
        },
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (WastRetCore::RefHost(n), Val::AnyRef(Some(a))) => {
            a.host_data(store).and_then(|d| d.downcast_ref::<HostRef>()) == Some(&HostRef(*n))
        }
        (WastRetCore::RefAny, Val::AnyRef(Some(_))) => true,
        (WastRetCore::RefEq, Val::AnyRef(Some(a))) => !matches!(a.kind(store), weft::AnyKind::Host),
        (WastRetCore::RefStruct, Val::AnyRef(Some(a))) => {
            matches!(a.kind(store), weft::AnyKind::Struct)
        }
        (WastRetCore::RefArray, Val::AnyRef(Some(a))) => {
            matches!(a.kind(store), weft::AnyKind::Array(_))
        }
        (WastRetCore::RefI31 | WastRetCore::RefI31Shared, Val::AnyRef(Some(a))) => {
            matches!(a.kind(store), weft::AnyKind::I31(_))
        }
        (WastRetCore::Either(alternatives), a) => {
            let mut errors = Vec::new();
            for alt in alternatives {
                match match_val_inner(store, a, alt) {
                    Ok(()) => return Ok(()),
                    Err(e) => errors.push(e),
                }
            }
            return Err(format!(
                "no alternative of `either` matched: {}",
                errors.join("; ")
            ));
        }
        _ => false,
    };
    if ok { Ok(()) } else { mismatch() }
}

fn null_matches(ht: Option<&HeapType<'_>>, actual: &Val) -> bool {
    let Some(ht) = ht else {
        return actual.is_null();
    };
    match ht {
        HeapType::Abstract {
            ty: AbstractHeapType::Func | AbstractHeapType::NoFunc,
            ..
        } => matches!(actual, Val::FuncRef(None)),
        HeapType::Abstract {
            ty: AbstractHeapType::Extern | AbstractHeapType::NoExtern,
            ..
        } => matches!(actual, Val::ExternRef(None)),
        HeapType::Abstract {
            ty: AbstractHeapType::Exn | AbstractHeapType::NoExn,
            ..
        } => matches!(actual, Val::ExnRef(None)),
        _ => actual.is_null(),
    }
}

const F32_QUIET: u32 = 0x0040_0000;
const F32_EXP: u32 = 0x7f80_0000;
const F64_QUIET: u64 = 0x0008_0000_0000_0000;
const F64_EXP: u64 = 0x7ff0_0000_0000_0000;

/// Whether the f32 bit pattern `bits` matches `p`.
pub fn f32_matches(p: &NanPattern<wast::token::F32>, bits: u32) -> bool {
    match p {
        // Exponent all ones and the payload exactly the quiet bit.
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == F32_EXP | F32_QUIET,
        // Exponent all ones and the quiet bit set.
        NanPattern::ArithmeticNan => bits & (F32_EXP | F32_QUIET) == F32_EXP | F32_QUIET,
        NanPattern::Value(v) => v.bits == bits,
    }
}

/// Whether the f64 bit pattern `bits` matches `p`.
pub fn f64_matches(p: &NanPattern<wast::token::F64>, bits: u64) -> bool {
    match p {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == F64_EXP | F64_QUIET,
        NanPattern::ArithmeticNan => bits & (F64_EXP | F64_QUIET) == F64_EXP | F64_QUIET,
        NanPattern::Value(v) => v.bits == bits,
    }
}

/// Lane `i` of `v` for lanes of `bits` bits (little-endian lane order).
fn lane(v: u128, bits: u32, i: usize) -> u128 {
    let mask = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    (v >> (bits as usize * i)) & mask
}

/// Compares a v128 lane by lane; the error names the first wrong lanes.
pub fn v128_matches(p: &V128Pattern, actual: u128) -> Result<(), String> {
    let mut bad = Vec::new();
    match p {
        V128Pattern::I8x16(e) => {
            for (i, e) in e.iter().enumerate() {
                if lane(actual, 8, i) as u8 != *e as u8 {
                    bad.push(i);
                }
            }
        }
        V128Pattern::I16x8(e) => {
            for (i, e) in e.iter().enumerate() {
                if lane(actual, 16, i) as u16 != *e as u16 {
                    bad.push(i);
                }
            }
        }
        V128Pattern::I32x4(e) => {
            for (i, e) in e.iter().enumerate() {
                if lane(actual, 32, i) as u32 != *e as u32 {
                    bad.push(i);
                }
            }
        }
        V128Pattern::I64x2(e) => {
            for (i, e) in e.iter().enumerate() {
                if lane(actual, 64, i) as u64 != *e as u64 {
                    bad.push(i);
                }
            }
        }
        V128Pattern::F32x4(e) => {
            for (i, e) in e.iter().enumerate() {
                if !f32_matches(e, lane(actual, 32, i) as u32) {
                    bad.push(i);
                }
            }
        }
        V128Pattern::F64x2(e) => {
            for (i, e) in e.iter().enumerate() {
                if !f64_matches(e, lane(actual, 64, i) as u64) {
                    bad.push(i);
                }
            }
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    Err(format!(
        "expected v128 {}, got {} (lane{} {} differ)",
        describe_v128_pattern(p),
        describe_v128_as(p, actual),
        if bad.len() == 1 { "" } else { "s" },
        bad.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn describe_f32(p: &NanPattern<wast::token::F32>) -> String {
    match p {
        NanPattern::CanonicalNan => "nan:canonical".into(),
        NanPattern::ArithmeticNan => "nan:arithmetic".into(),
        NanPattern::Value(v) => describe_f32_bits(v.bits),
    }
}

fn describe_f64(p: &NanPattern<wast::token::F64>) -> String {
    match p {
        NanPattern::CanonicalNan => "nan:canonical".into(),
        NanPattern::ArithmeticNan => "nan:arithmetic".into(),
        NanPattern::Value(v) => describe_f64_bits(v.bits),
    }
}

fn describe_f32_bits(bits: u32) -> String {
    format!("{} ({bits:#010x})", f32::from_bits(bits))
}

fn describe_f64_bits(bits: u64) -> String {
    format!("{} ({bits:#018x})", f64::from_bits(bits))
}

fn join<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(" ")
}

fn describe_v128_pattern(p: &V128Pattern) -> String {
    match p {
        V128Pattern::I8x16(l) => format!("i8x16 {}", join(l, |x| x.to_string())),
        V128Pattern::I16x8(l) => format!("i16x8 {}", join(l, |x| x.to_string())),
        V128Pattern::I32x4(l) => format!("i32x4 {}", join(l, |x| x.to_string())),
        V128Pattern::I64x2(l) => format!("i64x2 {}", join(l, |x| x.to_string())),
        V128Pattern::F32x4(l) => format!("f32x4 {}", join(l, describe_f32)),
        V128Pattern::F64x2(l) => format!("f64x2 {}", join(l, describe_f64)),
    }
}

/// `v` shown in the same shape as the pattern, for readable diffs.
fn describe_v128_as(p: &V128Pattern, v: u128) -> String {
    let lanes = |bits: u32, n: usize, f: &dyn Fn(u128) -> String| {
        (0..n)
            .map(|i| f(lane(v, bits, i)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match p {
        V128Pattern::I8x16(_) => format!("i8x16 {}", lanes(8, 16, &|x| (x as i8).to_string())),
        V128Pattern::I16x8(_) => format!("i16x8 {}", lanes(16, 8, &|x| (x as i16).to_string())),
        V128Pattern::I32x4(_) => format!("i32x4 {}", lanes(32, 4, &|x| (x as i32).to_string())),
        V128Pattern::I64x2(_) => format!("i64x2 {}", lanes(64, 2, &|x| (x as i64).to_string())),
        V128Pattern::F32x4(_) => {
            format!("f32x4 {}", lanes(32, 4, &|x| describe_f32_bits(x as u32)))
        }
        V128Pattern::F64x2(_) => {
            format!("f64x2 {}", lanes(64, 2, &|x| describe_f64_bits(x as u64)))
        }
    }
}

fn describe_heap_type(ht: &HeapType<'_>) -> String {
    match ht {
        HeapType::Abstract { shared, ty } => {
            let name = match ty {
                AbstractHeapType::Func => "func",
                AbstractHeapType::Extern => "extern",
                AbstractHeapType::Exn => "exn",
                AbstractHeapType::Cont => "cont",
                AbstractHeapType::Any => "any",
                AbstractHeapType::Eq => "eq",
                AbstractHeapType::Struct => "struct",
                AbstractHeapType::Array => "array",
                AbstractHeapType::I31 => "i31",
                AbstractHeapType::NoFunc => "nofunc",
                AbstractHeapType::NoExtern => "noextern",
                AbstractHeapType::None => "none",
                AbstractHeapType::NoExn => "noexn",
                AbstractHeapType::NoCont => "nocont",
            };
            if *shared {
                format!("(shared {name})")
            } else {
                name.to_string()
            }
        }
        HeapType::Concrete(idx) | HeapType::Exact(idx) => match idx {
            wast::token::Index::Num(n, _) => n.to_string(),
            wast::token::Index::Id(id) => format!("${}", id.name()),
        },
    }
}

/// The pattern in script syntax (for messages).
pub fn describe_pattern(p: &WastRetCore<'_>) -> String {
    match p {
        WastRetCore::I32(v) => format!("i32.const {v} ({:#x})", *v as u32),
        WastRetCore::I64(v) => format!("i64.const {v} ({:#x})", *v as u64),
        WastRetCore::F32(p) => format!("f32.const {}", describe_f32(p)),
        WastRetCore::F64(p) => format!("f64.const {}", describe_f64(p)),
        WastRetCore::V128(p) => format!("v128.const {}", describe_v128_pattern(p)),
        WastRetCore::RefNull(None) => "ref.null".into(),
        WastRetCore::RefNull(Some(ht)) => format!("ref.null {}", describe_heap_type(ht)),
        WastRetCore::RefExtern(None) => "ref.extern".into(),
        WastRetCore::RefExtern(Some(n)) => format!("ref.extern {n}"),
        WastRetCore::RefHost(n) => format!("ref.host {n}"),
        WastRetCore::RefFunc(None) => "ref.func".into(),
        WastRetCore::RefFunc(Some(idx)) => match idx {
            wast::token::Index::Num(n, _) => format!("ref.func {n}"),
            wast::token::Index::Id(id) => format!("ref.func ${}", id.name()),
        },
        WastRetCore::RefAny => "ref.any".into(),
        WastRetCore::RefEq => "ref.eq".into(),
        WastRetCore::RefArray => "ref.array".into(),
        WastRetCore::RefStruct => "ref.struct".into(),
        WastRetCore::RefI31 => "ref.i31".into(),
        WastRetCore::RefI31Shared => "ref.i31_shared".into(),
        WastRetCore::Either(alts) => {
            let mut s = String::from("either");
            for a in alts {
                let _ = write!(s, " ({})", describe_pattern(a));
            }
            s
        }
    }
}

/// A value in script syntax (for messages).
pub fn describe_val(store: &impl AsContext, v: &Val) -> String {
    match v {
        Val::I32(v) => format!("i32.const {v} ({:#x})", *v as u32),
        Val::I64(v) => format!("i64.const {v} ({:#x})", *v as u64),
        Val::F32(b) => format!("f32.const {}", describe_f32_bits(*b)),
        Val::F64(b) => format!("f64.const {}", describe_f64_bits(*b)),
        Val::V128(v) => format!(
            "v128.const i32x4 {:#010x} {:#010x} {:#010x} {:#010x}",
            lane(*v, 32, 0),
            lane(*v, 32, 1),
            lane(*v, 32, 2),
            lane(*v, 32, 3)
        ),
        Val::FuncRef(None) => "ref.null func".into(),
        Val::FuncRef(Some(_)) => "ref.func".into(),
        Val::ExternRef(None) => "ref.null extern".into(),
        Val::ExternRef(Some(r)) => match r.data(store).downcast_ref::<HostRef>() {
            Some(HostRef(n)) => format!("ref.extern {n}"),
            None => "ref.extern (host value not made by the script)".into(),
        },
        Val::ContRef(None) => "ref.null cont".into(),
        Val::ContRef(Some(_)) => "(continuation reference)".into(),
        Val::ExnRef(None) => "ref.null exn".into(),
        Val::ExnRef(Some(_)) => "ref.exn".into(),
        Val::AnyRef(None) => "ref.null any".into(),
        Val::AnyRef(Some(a)) => match a.kind(store) {
            weft::AnyKind::I31(v) => format!("ref.i31 {v}"),
            weft::AnyKind::Struct => "ref.struct".into(),
            weft::AnyKind::Array(n) => format!("ref.array (length {n})"),
            weft::AnyKind::Host => {
                match a.host_data(store).and_then(|d| d.downcast_ref::<HostRef>()) {
                    Some(HostRef(n)) => format!("ref.host {n}"),
                    None => "ref.host (host value not made by the script)".into(),
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wast::parser::{self, ParseBuffer};
    use weft::{Engine, Store};

    /// Parses one `(assert_return (invoke "f") RESULT)` and returns its
    /// expected result (the wast crate has no public constructor for
    /// `WastRetCore` floats, so tests go through the parser).
    fn with_pattern(result: &str, f: impl FnOnce(&WastRetCore<'_>)) {
        let text = format!("(assert_return (invoke \"f\") {result})");
        let buf = ParseBuffer::new(&text).unwrap();
        let wast = parser::parse::<wast::Wast<'_>>(&buf).unwrap();
        match &wast.directives[0] {
            wast::WastDirective::AssertReturn { results, .. } => match &results[0] {
                wast::WastRet::Core(core) => f(core),
                other => panic!("not a core result: {other:?}"),
            },
            other => panic!("unexpected directive {other:?}"),
        }
    }

    fn check(result: &str, actual: Val) -> Result<(), String> {
        let engine = Engine::default();
        let store = Store::new(&engine, ());
        let mut out = Ok(());
        with_pattern(result, |p| out = match_val(&store, &actual, p));
        out
    }

    #[test]
    fn integers() {
        assert!(check("(i32.const -1)", Val::I32(-1)).is_ok());
        assert!(check("(i32.const 0xffffffff)", Val::I32(-1)).is_ok());
        assert!(check("(i32.const 1)", Val::I32(2)).is_err());
        assert!(check("(i64.const 0x8000000000000000)", Val::I64(i64::MIN)).is_ok());
        // Type mismatch is a mismatch even with equal bits.
        assert!(check("(i32.const 0)", Val::I64(0)).is_err());
    }

    #[test]
    fn floats_compare_bits() {
        assert!(check("(f32.const 1.5)", Val::F32(1.5f32.to_bits())).is_ok());
        assert!(check("(f32.const -0)", Val::F32(0)).is_err());
        assert!(check("(f64.const -0)", Val::F64(0x8000_0000_0000_0000)).is_ok());
        assert!(check("(f32.const nan:0x200000)", Val::F32(0x7fa0_0000)).is_ok());
        assert!(check("(f32.const nan:0x200000)", Val::F32(0x7fc0_0000)).is_err());
        assert!(check("(f32.const -nan)", Val::F32(0xffc0_0000)).is_ok());
        assert!(check("(f32.const -nan)", Val::F32(0x7fc0_0000)).is_err());
    }

    #[test]
    fn nan_patterns_f32() {
        for bits in [0x7fc0_0000u32, 0xffc0_0000] {
            assert!(check("(f32.const nan:canonical)", Val::F32(bits)).is_ok());
            assert!(check("(f32.const nan:arithmetic)", Val::F32(bits)).is_ok());
        }
        // Quiet NaN with extra payload: arithmetic but not canonical.
        assert!(check("(f32.const nan:canonical)", Val::F32(0x7fc0_0001)).is_err());
        assert!(check("(f32.const nan:arithmetic)", Val::F32(0x7fc0_0001)).is_ok());
        // Signalling NaN: neither.
        assert!(check("(f32.const nan:arithmetic)", Val::F32(0x7fa0_0000)).is_err());
        assert!(check("(f32.const nan:canonical)", Val::F32(0x7f80_0001)).is_err());
        // Infinity and numbers: neither.
        assert!(check("(f32.const nan:arithmetic)", Val::F32(0x7f80_0000)).is_err());
        assert!(check("(f32.const nan:canonical)", Val::F32(1.0f32.to_bits())).is_err());
        // An f64 pattern does not match an f32 value.
        assert!(check("(f64.const nan:canonical)", Val::F32(0x7fc0_0000)).is_err());
    }

    #[test]
    fn nan_patterns_f64() {
        let canon = 0x7ff8_0000_0000_0000u64;
        assert!(check("(f64.const nan:canonical)", Val::F64(canon)).is_ok());
        assert!(check("(f64.const nan:canonical)", Val::F64(canon | 1 << 63)).is_ok());
        assert!(check("(f64.const nan:canonical)", Val::F64(canon | 1)).is_err());
        assert!(check("(f64.const nan:arithmetic)", Val::F64(canon | 1)).is_ok());
        assert!(
            check(
                "(f64.const nan:arithmetic)",
                Val::F64(0x7ff4_0000_0000_0000)
            )
            .is_err()
        );
        assert!(
            check(
                "(f64.const nan:arithmetic)",
                Val::F64(0x7ff0_0000_0000_0000)
            )
            .is_err()
        );
    }

    fn v128(lanes32: [u32; 4]) -> Val {
        let mut v = 0u128;
        for (i, l) in lanes32.iter().enumerate() {
            v |= u128::from(*l) << (32 * i);
        }
        Val::V128(v)
    }

    #[test]
    fn v128_integer_shapes() {
        let v = v128([0x0403_0201, 0x0807_0605, 0x0c0b_0a09, 0x100f_0e0d]);
        assert!(
            check(
                "(v128.const i8x16 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)",
                v.clone()
            )
            .is_ok()
        );
        assert!(
            check(
                "(v128.const i16x8 0x0201 0x0403 0x0605 0x0807 0x0a09 0x0c0b 0x0e0d 0x100f)",
                v.clone()
            )
            .is_ok()
        );
        assert!(
            check(
                "(v128.const i32x4 0x04030201 0x08070605 0x0c0b0a09 0x100f0e0d)",
                v.clone()
            )
            .is_ok()
        );
        assert!(
            check(
                "(v128.const i64x2 0x0807060504030201 0x100f0e0d0c0b0a09)",
                v.clone()
            )
            .is_ok()
        );
        let err = check(
            "(v128.const i8x16 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 17)",
            v,
        )
        .unwrap_err();
        assert!(err.contains("lane 15 differ"), "{err}");
        // Negative lanes compare by bits.
        assert!(
            check(
                "(v128.const i8x16 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1)",
                Val::V128(u128::MAX)
            )
            .is_ok()
        );
        assert!(
            check(
                "(v128.const i16x8 -1 -1 -1 -1 -1 -1 -1 -1)",
                Val::V128(u128::MAX)
            )
            .is_ok()
        );
        assert!(check("(v128.const i32x4 -1 -1 -1 -1)", Val::V128(u128::MAX)).is_ok());
        assert!(check("(v128.const i64x2 -1 -1)", Val::V128(u128::MAX)).is_ok());
        assert!(check("(v128.const i64x2 -1 0)", Val::V128(u128::MAX)).is_err());
    }

    #[test]
    fn v128_float_lanes_with_nan_patterns() {
        let one = 1.0f32.to_bits();
        let v = v128([0x7fc0_0000, 0xffc0_0001, one, 0x7fa0_0000]);
        assert!(
            check(
                "(v128.const f32x4 nan:canonical nan:arithmetic 1.0 nan:0x200000)",
                v.clone()
            )
            .is_ok()
        );
        // Lane 1 has payload bits: not canonical.
        let err = check(
            "(v128.const f32x4 nan:canonical nan:canonical 1.0 nan:0x200000)",
            v.clone(),
        )
        .unwrap_err();
        assert!(err.contains("lane 1 differ"), "{err}");
        // Lane 3 is signalling: not arithmetic.
        assert!(
            check(
                "(v128.const f32x4 nan:canonical nan:arithmetic 1.0 nan:arithmetic)",
                v
            )
            .is_err()
        );

        let lo = 0x7ff8_0000_0000_0000u128;
        let hi = u128::from(2.5f64.to_bits()) << 64;
        assert!(check("(v128.const f64x2 nan:canonical 2.5)", Val::V128(lo | hi)).is_ok());
        assert!(check("(v128.const f64x2 nan:arithmetic 2.5)", Val::V128(lo | hi)).is_ok());
        assert!(check("(v128.const f64x2 2.5 nan:canonical)", Val::V128(lo | hi)).is_err());
    }

    #[test]
    fn references() {
        let engine = Engine::default();
        let mut store = Store::new(&engine, ());
        let r1 = ExternRef::new(&mut store, HostRef(1));
        let other = ExternRef::new(&mut store, "not a HostRef");
        let host1 = weft::AnyRef::from_extern(&mut store, r1).unwrap();
        let i31 = weft::AnyRef::from_i31(&mut store, -5);
        let m = |pat: &str, v: &Val| {
            let mut out = Ok(());
            with_pattern(pat, |p| out = match_val(&store, v, p));
            out
        };
        let ext1 = Val::ExternRef(Some(r1));
        assert!(m("(ref.extern 1)", &ext1).is_ok());
        assert!(m("(ref.extern)", &ext1).is_ok());
        assert!(m("(ref.extern 2)", &ext1).is_err());
        assert!(m("(ref.extern 1)", &Val::ExternRef(Some(other))).is_err());
        assert!(m("(ref.extern 1)", &Val::ExternRef(None)).is_err());
        assert!(m("(ref.null extern)", &ext1).is_err());

        assert!(m("(ref.null extern)", &Val::ExternRef(None)).is_ok());
        assert!(m("(ref.null noextern)", &Val::ExternRef(None)).is_ok());
        assert!(m("(ref.null func)", &Val::ExternRef(None)).is_err());
        assert!(m("(ref.null func)", &Val::FuncRef(None)).is_ok());
        assert!(m("(ref.null nofunc)", &Val::FuncRef(None)).is_ok());
        assert!(m("(ref.null extern)", &Val::FuncRef(None)).is_err());
        assert!(m("(ref.null)", &Val::FuncRef(None)).is_ok());
        assert!(m("(ref.null)", &Val::ExternRef(None)).is_ok());
        assert!(m("(ref.null any)", &Val::FuncRef(None)).is_ok());
        assert!(m("(ref.null exn)", &Val::ExnRef(None)).is_ok());
        assert!(m("(ref.null noexn)", &Val::ExnRef(None)).is_ok());
        assert!(m("(ref.null exn)", &Val::FuncRef(None)).is_err());
        assert!(m("(ref.null)", &Val::I32(0)).is_err());

        assert!(m("(ref.func)", &Val::FuncRef(None)).is_err());
        assert!(m("(ref.func)", &ext1).is_err());

        // `ref.host` is the `anyref` view of a host reference: an
        // `ExternRef` does not match it, its `any.convert_extern` does.
        assert!(m("(ref.host 1)", &ext1).is_err());
        assert!(m("(ref.host 1)", &Val::AnyRef(Some(host1))).is_ok());
        assert!(m("(ref.host 2)", &Val::AnyRef(Some(host1))).is_err());
        assert!(m("(ref.any)", &Val::AnyRef(Some(host1))).is_ok());
        assert!(m("(ref.eq)", &Val::AnyRef(Some(host1))).is_err());
        assert_eq!(i31.as_i31(&store), Some(-5));
        assert!(m("(ref.i31)", &Val::AnyRef(Some(i31))).is_ok());
        assert!(m("(ref.eq)", &Val::AnyRef(Some(i31))).is_ok());
        assert!(m("(ref.struct)", &Val::AnyRef(Some(i31))).is_err());
        assert!(m("(ref.i31)", &Val::FuncRef(None)).is_err());
    }

    #[test]
    fn either() {
        assert!(check("(either (i32.const 1) (i32.const 2))", Val::I32(2)).is_ok());
        let err = check("(either (i32.const 1) (i32.const 2))", Val::I32(3)).unwrap_err();
        assert!(err.contains("no alternative"), "{err}");
        assert!(
            check(
                "(either (v128.const i32x4 1 1 1 1) (v128.const f32x4 nan:canonical 0 0 0))",
                v128([0x7fc0_0000, 0, 0, 0])
            )
            .is_ok()
        );
    }

    #[test]
    fn arguments() {
        let engine = Engine::default();
        let mut store = Store::new(&engine, ());
        let text = "(invoke \"f\" (i32.const -7) (f32.const nan:0x1) (v128.const i16x8 1 2 3 4 5 6 7 8) \
                    (ref.null func) (ref.null extern) (ref.null $t) (ref.extern 5) (ref.host 1))";
        let buf = ParseBuffer::new(text).unwrap();
        let wast = parser::parse::<wast::Wast<'_>>(&buf).unwrap();
        let wast::WastDirective::Invoke(inv) = &wast.directives[0] else {
            panic!()
        };
        let args: Vec<_> = inv
            .args
            .iter()
            .map(|a| match a {
                wast::WastArg::Core(c) => arg_to_val(&mut store, c),
                _ => panic!(),
            })
            .collect();
        assert!(matches!(args[0], Ok(Val::I32(-7))));
        assert!(matches!(args[1], Ok(Val::F32(0x7f80_0001))));
        match &args[2] {
            Ok(Val::V128(v)) => {
                assert_eq!(lane(*v, 16, 0), 1);
                assert_eq!(lane(*v, 16, 7), 8);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(args[3], Ok(Val::FuncRef(None))));
        assert!(matches!(args[4], Ok(Val::ExternRef(None))));
        assert!(matches!(args[5], Ok(Val::FuncRef(None))));
        match &args[6] {
            Ok(Val::ExternRef(Some(r))) => {
                assert_eq!(r.data(&store).downcast_ref::<HostRef>(), Some(&HostRef(5)));
            }
            other => panic!("{other:?}"),
        }
        match &args[7] {
            Ok(Val::AnyRef(Some(a))) => {
                let d = a
                    .host_data(&store)
                    .and_then(|d| d.downcast_ref::<HostRef>());
                assert_eq!(d, Some(&HostRef(1)));
            }
            other => panic!("{other:?}"),
        }
    }
}
