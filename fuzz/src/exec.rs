//! Running one module in both engines and describing what happened in
//! engine-neutral terms, so the two descriptions can be compared.
//!
//! ```text
//! wasm --> weft:  instantiate, call every exported function in export
//!                 order with the same arguments, then read every exported
//!                 global, memory and table
//!      --> wasmi: the same
//! Outcome == Outcome ?  (results, trap kinds, final globals/memories/tables)
//! ```

use std::fmt;

/// A value as both engines can report it. Floats are compared by bits
/// (wasm-smith canonicalises NaNs, so even NaN bits must agree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    /// A reference: only its nullness and kind (func or extern) are
    /// comparable across engines.
    Ref {
        null: bool,
        func: bool,
    },
}

/// The kinds of trap the specification distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    MemoryOutOfBounds,
    TableOutOfBounds,
    IndirectCallToNull,
    BadSignature,
    IntegerOverflow,
    IntegerDivisionByZero,
    BadConversionToInteger,
    NullReference,
    /// Engines have different stack limits: a stack overflow on either
    /// side makes the rest of the case inconclusive.
    StackOverflow,
}

impl TrapKind {
    /// The spec test suite's message for this trap.
    pub fn message(self) -> &'static str {
        match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::TableOutOfBounds => "out of bounds table access",
            TrapKind::IndirectCallToNull => "uninitialized element",
            TrapKind::BadSignature => "indirect call type mismatch",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::IntegerDivisionByZero => "integer divide by zero",
            TrapKind::BadConversionToInteger => "invalid conversion to integer",
            TrapKind::NullReference => "null reference",
            TrapKind::StackOverflow => "call stack exhausted",
        }
    }
}

/// What one call (or the instantiation) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Returned(Vec<Value>),
    Trapped(TrapKind),
    /// Any other error: these never match (text differs between engines).
    Failed(String),
}

impl Step {
    fn inconclusive(&self) -> bool {
        matches!(self, Step::Trapped(TrapKind::StackOverflow))
    }
}

/// Everything observable about one run of a module.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// `None` when instantiation succeeded.
    pub instantiation: Option<Step>,
    /// (export name, arguments, what happened), in call order.
    pub calls: Vec<(String, Vec<Value>, Step)>,
    /// Exported globals' final values.
    pub globals: Vec<(String, Value)>,
    /// Exported memories: (name, length, FNV-1a hash of the contents).
    pub memories: Vec<(String, usize, u64)>,
    /// Exported tables: (name, size).
    pub tables: Vec<(String, u64)>,
}

impl Outcome {
    /// Whether a stack overflow somewhere makes the comparison meaningless.
    pub fn inconclusive(&self) -> bool {
        self.instantiation.as_ref().is_some_and(Step::inconclusive)
            || self.calls.iter().any(|(_, _, s)| s.inconclusive())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I32(v) => write!(f, "(i32.const {v})"),
            Value::I64(v) => write!(f, "(i64.const {v})"),
            Value::F32(b) => write!(
                f,
                "(f32.const {})",
                float_text(f64::from(f32::from_bits(*b)), *b as u64, 32)
            ),
            Value::F64(b) => write!(f, "(f64.const {})", float_text(f64::from_bits(*b), *b, 64)),
            Value::V128(v) => write!(
                f,
                "(v128.const i64x2 {} {})",
                *v as u64 as i64,
                (*v >> 64) as u64 as i64
            ),
            Value::Ref {
                null: true,
                func: true,
            } => write!(f, "(ref.null func)"),
            Value::Ref {
                null: true,
                func: false,
            } => write!(f, "(ref.null extern)"),
            Value::Ref {
                null: false,
                func: true,
            } => write!(f, "(ref.func)"),
            Value::Ref {
                null: false,
                func: false,
            } => write!(f, "(ref.extern)"),
        }
    }
}

/// Text for a float that parses back to the same bits.
fn float_text(v: f64, bits: u64, width: u32) -> String {
    if v.is_nan() {
        let (payload_bits, sign_bit) = if width == 32 { (23, 31) } else { (52, 63) };
        let payload = bits & ((1u64 << payload_bits) - 1);
        let sign = if bits >> sign_bit & 1 == 1 { "-" } else { "" };
        format!("{sign}nan:0x{payload:x}")
    } else if width == 32 {
        format!("{}", v as f32)
    } else {
        format!("{v}")
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Arguments for parameter types, chosen from `seed`: zero, small and
/// boundary values mostly, so that memory addresses and loop counts are
/// often meaningful.
pub fn arguments(seed: u64, types: &[ArgType]) -> Vec<Value> {
    let mut rng = crate::SplitMix(seed);
    types
        .iter()
        .map(|t| {
            let r = rng.next_u64();
            let pick = |small: u64, all: u64| -> u64 {
                match r % 8 {
                    0 => 0,
                    1..=4 => (r >> 8) % small,
                    5 => all,
                    6 => all.wrapping_sub((r >> 8) % 4),
                    _ => r >> 3,
                }
            };
            match t {
                ArgType::I32 => Value::I32(pick(70_000, u64::from(u32::MAX)) as u32 as i32),
                ArgType::I64 => Value::I64(pick(70_000, u64::MAX) as i64),
                ArgType::F32 => Value::F32(((pick(1000, 0) as f32) - 500.0).to_bits()),
                ArgType::F64 => Value::F64(((pick(1000, 0) as f64) / 3.0 - 100.0).to_bits()),
                ArgType::V128 => Value::V128(u128::from(rng.next_u64()) << 64 | u128::from(r)),
                ArgType::FuncRef => Value::Ref {
                    null: true,
                    func: true,
                },
                ArgType::ExternRef => Value::Ref {
                    null: true,
                    func: false,
                },
            }
        })
        .collect()
}

/// The same growth limits in both engines (wasm-smith's tables may grow
/// without bound, and an engine allocating 4G elements is not a finding).
pub const MAX_MEMORY_BYTES: usize = 64 << 20;
/// See [`MAX_MEMORY_BYTES`].
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Parameter types the fuzzer can pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    I32,
    I64,
    F32,
    F64,
    V128,
    /// Passed as a null reference of the parameter's type.
    FuncRef,
    /// See [`ArgType::FuncRef`].
    ExternRef,
}

// ---- weft ------------------------------------------------------------------

fn weft_trap(e: &weft::Error) -> Step {
    use weft::Trap as T;
    match e.downcast_ref::<T>() {
        Some(t) => Step::Trapped(match t {
            T::UnreachableCodeReached => TrapKind::Unreachable,
            T::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
            T::TableOutOfBounds => TrapKind::TableOutOfBounds,
            T::IndirectCallToNull => TrapKind::IndirectCallToNull,
            T::BadSignature => TrapKind::BadSignature,
            T::IntegerOverflow => TrapKind::IntegerOverflow,
            T::IntegerDivisionByZero => TrapKind::IntegerDivisionByZero,
            T::BadConversionToInteger => TrapKind::BadConversionToInteger,
            T::NullReference => TrapKind::NullReference,
            T::StackOverflow => TrapKind::StackOverflow,
            other => return Step::Failed(format!("weft trap {other:?}")),
        }),
        None => Step::Failed(format!("weft: {e:#}")),
    }
}

fn weft_value(v: &weft::Val) -> Value {
    match v {
        weft::Val::I32(x) => Value::I32(*x),
        weft::Val::I64(x) => Value::I64(*x),
        weft::Val::F32(b) => Value::F32(*b),
        weft::Val::F64(b) => Value::F64(*b),
        weft::Val::V128(x) => Value::V128(*x),
        weft::Val::FuncRef(f) => Value::Ref {
            null: f.is_none(),
            func: true,
        },
        weft::Val::ExternRef(r) => Value::Ref {
            null: r.is_none(),
            func: false,
        },
        // Not generated by this fuzzer (exceptions, continuations off in
        // wasm-smith); compared as non-function references.
        weft::Val::ExnRef(r) => Value::Ref {
            null: r.is_none(),
            func: false,
        },
        weft::Val::ContRef(r) => Value::Ref {
            null: r.is_none(),
            func: false,
        },
        weft::Val::AnyRef(r) => Value::Ref {
            null: r.is_none(),
            func: false,
        },
    }
}

fn to_weft(v: &Value, ty: &weft::ValType) -> weft::Val {
    match v {
        Value::I32(x) => weft::Val::I32(*x),
        Value::I64(x) => weft::Val::I64(*x),
        Value::F32(b) => weft::Val::F32(*b),
        Value::F64(b) => weft::Val::F64(*b),
        Value::V128(x) => weft::Val::V128(*x),
        Value::Ref { .. } => match ty {
            weft::ValType::Ref(r) if r.heap.is_extern() => weft::Val::ExternRef(None),
            _ => weft::Val::FuncRef(None),
        },
    }
}

fn arg_type_weft(t: &weft::ValType) -> ArgType {
    match t {
        weft::ValType::I32 => ArgType::I32,
        weft::ValType::I64 => ArgType::I64,
        weft::ValType::F32 => ArgType::F32,
        weft::ValType::F64 => ArgType::F64,
        weft::ValType::V128 => ArgType::V128,
        weft::ValType::Ref(r) if r.heap.is_extern() => ArgType::ExternRef,
        weft::ValType::Ref(_) => ArgType::FuncRef,
    }
}

/// Compile errors from weft, before anything runs.
pub fn weft_compile(engine: &weft::Engine, wasm: &[u8]) -> Result<weft::Module, String> {
    weft::Module::from_binary(engine, wasm).map_err(|e| format!("{e:#}"))
}

/// Runs `module` in weft. `only` limits the calls to these export indices.
pub fn run_weft(engine: &weft::Engine, module: &weft::Module, seed: u64) -> Outcome {
    let mut out = Outcome::default();
    let limits = weft::StoreLimitsBuilder::new()
        .memory_size(MAX_MEMORY_BYTES)
        .table_elements(MAX_TABLE_ELEMENTS)
        .build();
    let mut store = weft::Store::new(engine, limits);
    store.limiter(|l| l);
    let instance = match weft::Instance::new(&mut store, module, &[]) {
        Ok(i) => i,
        Err(e) => {
            out.instantiation = Some(weft_trap(&e));
            return out;
        }
    };
    // Export order is engine-specific: both sides go by name.
    let mut exports: Vec<(String, weft::Extern)> = instance.exports(&mut store);
    exports.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, (name, ext)) in exports.iter().enumerate() {
        let weft::Extern::Func(f) = ext else { continue };
        let ty = f.ty(&store);
        let types: Vec<ArgType> = ty.params().iter().map(arg_type_weft).collect();
        let args = arguments(seed ^ (k as u64).wrapping_mul(0x9e37_79b9), &types);
        let params: Vec<weft::Val> = args
            .iter()
            .zip(ty.params())
            .map(|(v, t)| to_weft(v, t))
            .collect();
        let mut results: Vec<weft::Val> = ty.results().iter().map(weft::Val::default_for).collect();
        let step = match f.call(&mut store, &params, &mut results) {
            Ok(()) => Step::Returned(results.iter().map(weft_value).collect()),
            Err(e) => weft_trap(&e),
        };
        let stop = step.inconclusive();
        out.calls.push((name.clone(), args, step));
        if stop {
            return out;
        }
    }
    for (name, ext) in &exports {
        match ext {
            weft::Extern::Global(g) => out
                .globals
                .push((name.clone(), weft_value(&g.get(&mut store)))),
            weft::Extern::Memory(m) => {
                let data = m.data(&store);
                out.memories.push((name.clone(), data.len(), fnv1a(data)));
            }
            weft::Extern::Table(t) => out.tables.push((name.clone(), t.size(&store))),
            _ => {}
        }
    }
    out
}

// ---- wasmi -----------------------------------------------------------------

fn wasmi_step(e: &wasmi::Error) -> Step {
    let Some(code) = e.as_trap_code() else {
        // Segment initialisation out of bounds is an error, not a trap
        // code, in wasmi; the specification calls it a trap.
        let msg = e.to_string();
        for kind in [TrapKind::TableOutOfBounds, TrapKind::MemoryOutOfBounds] {
            if msg.starts_with(kind.message()) {
                return Step::Trapped(kind);
            }
        }
        return Step::Failed(format!("wasmi: {e}"));
    };
    let kind = match format!("{code:?}").as_str() {
        "UnreachableCodeReached" => TrapKind::Unreachable,
        "MemoryOutOfBounds" => TrapKind::MemoryOutOfBounds,
        "TableOutOfBounds" => TrapKind::TableOutOfBounds,
        "IndirectCallToNull" => TrapKind::IndirectCallToNull,
        "BadSignature" => TrapKind::BadSignature,
        "IntegerOverflow" => TrapKind::IntegerOverflow,
        "IntegerDivisionByZero" => TrapKind::IntegerDivisionByZero,
        "BadConversionToInteger" => TrapKind::BadConversionToInteger,
        "NullReference" => TrapKind::NullReference,
        "StackOverflow" => TrapKind::StackOverflow,
        other => return Step::Failed(format!("wasmi trap {other}")),
    };
    Step::Trapped(kind)
}

fn wasmi_value(v: &wasmi::Val) -> Value {
    match v {
        wasmi::Val::I32(x) => Value::I32(*x),
        wasmi::Val::I64(x) => Value::I64(*x),
        wasmi::Val::F32(x) => Value::F32(x.to_bits()),
        wasmi::Val::F64(x) => Value::F64(x.to_bits()),
        wasmi::Val::V128(x) => Value::V128(x.as_u128()),
        wasmi::Val::FuncRef(f) => Value::Ref {
            null: f.is_null(),
            func: true,
        },
        wasmi::Val::ExternRef(r) => Value::Ref {
            null: r.is_null(),
            func: false,
        },
    }
}

fn to_wasmi(v: &Value, ty: &wasmi::ValType) -> wasmi::Val {
    match v {
        Value::I32(x) => wasmi::Val::I32(*x),
        Value::I64(x) => wasmi::Val::I64(*x),
        Value::F32(b) => wasmi::Val::F32(wasmi::F32::from_bits(*b)),
        Value::F64(b) => wasmi::Val::F64(wasmi::F64::from_bits(*b)),
        Value::V128(x) => wasmi::Val::V128(wasmi::V128::from(*x)),
        Value::Ref { .. } => wasmi::Val::default_for_ty(*ty),
    }
}

fn arg_type_wasmi(t: &wasmi::ValType) -> ArgType {
    match t {
        wasmi::ValType::I32 => ArgType::I32,
        wasmi::ValType::I64 => ArgType::I64,
        wasmi::ValType::F32 => ArgType::F32,
        wasmi::ValType::F64 => ArgType::F64,
        wasmi::ValType::V128 => ArgType::V128,
        wasmi::ValType::ExternRef => ArgType::ExternRef,
        wasmi::ValType::FuncRef => ArgType::FuncRef,
    }
}

/// The oracle's engine: the same proposals as the generator enables.
pub fn wasmi_engine() -> wasmi::Engine {
    let mut c = wasmi::Config::default();
    c.wasm_multi_value(true)
        .wasm_multi_memory(true)
        .wasm_bulk_memory(true)
        .wasm_reference_types(true)
        .wasm_tail_call(true)
        .wasm_extended_const(true)
        .wasm_memory64(true)
        .wasm_sign_extension(true)
        .wasm_saturating_float_to_int(true)
        .wasm_mutable_global(true)
        .wasm_simd(true);
    wasmi::Engine::new(&c)
}

/// Runs `wasm` in wasmi; `Err` when wasmi cannot compile it.
pub fn run_wasmi(engine: &wasmi::Engine, wasm: &[u8], seed: u64) -> Result<Outcome, String> {
    let module = wasmi::Module::new(engine, wasm).map_err(|e| format!("wasmi: {e}"))?;
    let mut out = Outcome::default();
    let limits = wasmi::StoreLimitsBuilder::new()
        .memory_size(MAX_MEMORY_BYTES)
        .table_elements(MAX_TABLE_ELEMENTS)
        .build();
    let mut store = wasmi::Store::new(engine, limits);
    store.limiter(|l| l);
    let linker = wasmi::Linker::<wasmi::StoreLimits>::new(engine);
    let instance = match linker.instantiate_and_start(&mut store, &module) {
        Ok(i) => i,
        Err(e) => {
            out.instantiation = Some(wasmi_step(&e));
            return Ok(out);
        }
    };
    let mut exports: Vec<(String, wasmi::Extern)> = instance
        .exports(&store)
        .map(|e| (e.name().to_string(), e.into_extern()))
        .collect();
    exports.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, (name, ext)) in exports.iter().enumerate() {
        let wasmi::Extern::Func(f) = ext else {
            continue;
        };
        let ty = f.ty(&store);
        let types: Vec<ArgType> = ty.params().iter().map(arg_type_wasmi).collect();
        let args = arguments(seed ^ (k as u64).wrapping_mul(0x9e37_79b9), &types);
        let params: Vec<wasmi::Val> = args
            .iter()
            .zip(ty.params())
            .map(|(v, t)| to_wasmi(v, t))
            .collect();
        let mut results: Vec<wasmi::Val> = ty
            .results()
            .iter()
            .map(|t| wasmi::Val::default_for_ty(*t))
            .collect();
        let step = match f.call(&mut store, &params, &mut results) {
            Ok(()) => Step::Returned(results.iter().map(wasmi_value).collect()),
            Err(e) => wasmi_step(&e),
        };
        let stop = step.inconclusive();
        out.calls.push((name.clone(), args, step));
        if stop {
            return Ok(out);
        }
    }
    for (name, ext) in &exports {
        match ext {
            wasmi::Extern::Global(g) => out
                .globals
                .push((name.clone(), wasmi_value(&g.get(&store)))),
            wasmi::Extern::Memory(m) => {
                let data = m.data(&store);
                out.memories.push((name.clone(), data.len(), fnv1a(data)));
            }
            wasmi::Extern::Table(t) => out.tables.push((name.clone(), t.size(&store))),
            _ => {}
        }
    }
    Ok(out)
}
