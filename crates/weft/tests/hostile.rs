//! Hostile inputs: malformed and adversarial modules, generated here in
//! code, must each give a clear error (or work) within bounded time and
//! memory, and never bring the process down.
//!
//! Every case runs in this process. Each checks the error text it
//! expects and that compiling took less than `TIME_BOUND`; the last check
//! of every case is that the process's peak resident memory stayed below
//! `MEMORY_BOUND`.

use std::time::{Duration, Instant};
use weft::{Config, Engine, Instance, Module, Store, Trap, Val};

/// Generous: a hang or a pathological blow-up, not a slow machine, is what
/// this catches.
const TIME_BOUND: Duration = Duration::from_secs(60);
/// Peak resident memory of the whole test process.
const MEMORY_BOUND_MIB: i64 = 2048;

// ---- a minimal binary encoder ---------------------------------------------

fn leb(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn sleb(mut v: i64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn name(s: &[u8], out: &mut Vec<u8>) {
    leb(s.len() as u64, out);
    out.extend_from_slice(s);
}

const I32: u8 = 0x7f;
const I64: u8 = 0x7e;
const FUNCREF: u8 = 0x70;

/// A module from `(section id, payload)` pairs.
fn module(sections: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    for (id, payload) in sections {
        m.push(*id);
        leb(payload.len() as u64, &mut m);
        m.extend_from_slice(payload);
    }
    m
}

/// A vector section payload: the count, then the items as given.
fn items(count: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    leb(count, &mut out);
    out.extend_from_slice(bytes);
    out
}

/// Type section with one function type.
fn one_type(params: &[u8], results: &[u8]) -> (u8, Vec<u8>) {
    let mut t = vec![0x60];
    leb(params.len() as u64, &mut t);
    t.extend_from_slice(params);
    leb(results.len() as u64, &mut t);
    t.extend_from_slice(results);
    (1, items(1, &t))
}

/// Function section declaring `n` functions of type 0.
fn funcs(n: u64) -> (u8, Vec<u8>) {
    let mut out = Vec::new();
    leb(n, &mut out);
    out.extend(std::iter::repeat_n(0u8, n as usize));
    (3, out)
}

/// One function body from local declarations and code (without the final
/// `end`).
fn body(locals: &[(u64, u8)], code: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    leb(locals.len() as u64, &mut b);
    for (n, t) in locals {
        leb(*n, &mut b);
        b.push(*t);
    }
    b.extend_from_slice(code);
    b.push(0x0b);
    let mut out = Vec::new();
    leb(b.len() as u64, &mut out);
    out.extend_from_slice(&b);
    out
}

/// Code section holding `bodies`.
fn code(bodies: &[Vec<u8>]) -> (u8, Vec<u8>) {
    let mut out = Vec::new();
    leb(bodies.len() as u64, &mut out);
    for b in bodies {
        out.extend_from_slice(b);
    }
    (10, out)
}

/// Export section exporting function 0 as `f`.
fn export_f() -> (u8, Vec<u8>) {
    let mut e = Vec::new();
    name(b"f", &mut e);
    e.extend_from_slice(&[0x00, 0x00]);
    (7, items(1, &e))
}

/// `() -> i32` function 0 exported as `f` with `code`.
fn func_module(locals: &[(u64, u8)], code_bytes: &[u8]) -> Vec<u8> {
    module(&[
        one_type(&[], &[I32]),
        funcs(1),
        export_f(),
        code(&[body(locals, code_bytes)]),
    ])
}

// ---- checks ---------------------------------------------------------------

fn engine() -> Engine {
    let mut c = Config::new();
    c.consume_fuel(true);
    Engine::new(&c).unwrap()
}

fn peak_rss_mib() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    usage.ru_maxrss / 1024
}

fn bounded<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let r = f();
    let took = start.elapsed();
    assert!(took < TIME_BOUND, "{what} took {took:?}");
    let rss = peak_rss_mib();
    assert!(rss < MEMORY_BOUND_MIB, "{what}: peak RSS {rss} MiB");
    r
}

/// Compiling `wasm` fails with an error containing `expect`.
fn rejects(what: &str, wasm: &[u8], expect: &str) {
    rejects_with(what, &engine(), wasm, expect)
}

fn rejects_with(what: &str, engine: &Engine, wasm: &[u8], expect: &str) {
    let r = bounded(what, || Module::from_binary(engine, wasm));
    match r {
        Ok(_) => panic!("{what}: compiled, expected an error containing {expect:?}"),
        Err(e) => {
            let msg = format!("{e:#}");
            assert!(msg.len() > 10, "{what}: unhelpful error {msg:?}");
            assert!(
                msg.to_lowercase().contains(&expect.to_lowercase()),
                "{what}: error {msg:?} does not mention {expect:?}"
            );
        }
    }
}

/// Compiles, instantiates and calls `f` (with fuel), returning its result
/// or the error of whichever step failed.
fn run(what: &str, wasm: &[u8]) -> weft::Result<Vec<Val>> {
    bounded(what, || {
        let engine = engine();
        let module = Module::from_binary(&engine, wasm)?;
        let mut store = Store::new(&engine, ());
        store.set_fuel(10_000_000)?;
        let instance = Instance::new(&mut store, &module, &[])?;
        let Some(f) = instance.get_func(&mut store, "f") else {
            return Ok(Vec::new());
        };
        let ty = f.ty(&store);
        let params: Vec<Val> = ty.params().iter().map(Val::default_for).collect();
        let mut results: Vec<Val> = ty.results().iter().map(Val::default_for).collect();
        f.call(&mut store, &params, &mut results)?;
        Ok(results)
    })
}

fn returns_i32(what: &str, wasm: &[u8], want: i32) {
    let r = run(what, wasm).unwrap_or_else(|e| panic!("{what}: {e:#}"));
    assert_eq!(r.len(), 1, "{what}");
    assert_eq!(r[0].unwrap_i32(), want, "{what}");
}

// ---- huge counts ----------------------------------------------------------

#[test]
fn counts_larger_than_the_section() {
    // Each section claims u32::MAX entries but holds none: an error about
    // the truncated input, without first allocating for the claim.
    for id in [1u8, 2, 3, 4, 5, 6, 7, 9, 10, 11] {
        let wasm = module(&[(id, items(u64::from(u32::MAX), &[]))]);
        run(&format!("section {id}"), &wasm).expect_err("must fail");
        let msg = format!("{:#}", Module::from_binary(&engine(), &wasm).unwrap_err());
        assert!(
            msg.contains("unexpected end")
                || msg.contains("out of bounds")
                || msg.contains("count"),
            "section {id}: {msg}"
        );
    }
}

#[test]
fn counts_beyond_implementation_limits() {
    let many = 1_000_001;
    let wasm = module(&[one_type(&[], &[]), funcs(many)]);
    rejects("1M+1 functions", &wasm, "functions count exceeds limit");
    let mut types = Vec::new();
    for _ in 0..many {
        types.extend_from_slice(&[0x60, 0, 0]);
    }
    rejects(
        "1M+1 types",
        &module(&[(1, items(many, &types))]),
        "types count",
    );
    let mut globals = Vec::new();
    for _ in 0..many {
        globals.extend_from_slice(&[I32, 0, 0x41, 0, 0x0b]);
    }
    rejects(
        "1M+1 globals",
        &module(&[(6, items(many, &globals))]),
        "globals count",
    );
    let mut data = Vec::new();
    for _ in 0..100_001 {
        data.extend_from_slice(&[0x01, 0x00]); // passive, empty
    }
    rejects(
        "100,001 data segments",
        &module(&[(11, items(100_001, &data))]),
        "count exceeds limit",
    );
}

#[test]
fn many_small_functions_compile() {
    let n = 20_000;
    let bodies: Vec<Vec<u8>> = (0..n).map(|_| body(&[], &[0x41, 7])).collect();
    let wasm = module(&[one_type(&[], &[I32]), funcs(n), export_f(), code(&bodies)]);
    returns_i32("20k functions", &wasm, 7);
    // The same module with a function limit is refused before compiling.
    let mut c = Config::new();
    c.max_functions(10_000);
    rejects_with(
        "20k functions, limit 10k",
        &Engine::new(&c).unwrap(),
        &wasm,
        "max_functions",
    );
}

#[test]
fn many_globals_exports_and_data_segments() {
    let n = 100_000u64;
    let mut globals = Vec::new();
    for i in 0..n {
        globals.extend_from_slice(&[I32, 1, 0x41]);
        sleb(i as i64, &mut globals);
        globals.push(0x0b);
    }
    let mut exports = Vec::new();
    for i in 0..n {
        name(format!("g{i}").as_bytes(), &mut exports);
        exports.push(0x03);
        leb(i, &mut exports);
    }
    let mut data = Vec::new();
    for i in 0..n {
        data.extend_from_slice(&[0x00, 0x41]);
        sleb((i % 65536) as i64, &mut data);
        data.push(0x0b);
        name(&[i as u8], &mut data);
    }
    let wasm = module(&[
        (5, items(1, &[0x00, 0x01])),
        (6, items(n, &globals)),
        (7, items(n, &exports)),
        (11, items(n, &data)),
    ]);
    run("100k globals/exports/data", &wasm).unwrap();
}

// ---- deep nesting and giant functions -------------------------------------

#[test]
fn blocks_nested_65k_deep() {
    let depth = 65_536;
    let mut c = Vec::new();
    for _ in 0..depth {
        c.extend_from_slice(&[0x02, 0x40]); // block
    }
    c.extend(std::iter::repeat_n(0x0b, depth));
    c.extend_from_slice(&[0x41, 42]);
    returns_i32("65k nested blocks", &func_module(&[], &c), 42);

    // Loops and ifs inside a block, with a branch from the innermost out
    // of the block.
    let depth = 20_000;
    let mut c = vec![0x02, 0x40];
    for i in 0..depth {
        if i % 2 == 0 {
            c.extend_from_slice(&[0x03, 0x40]); // loop
        } else {
            c.extend_from_slice(&[0x41, 1, 0x04, 0x40]); // i32.const 1; if
        }
    }
    c.push(0x0c); // br to the block
    leb(depth as u64, &mut c);
    c.extend(std::iter::repeat_n(0x0b, depth + 1));
    c.extend_from_slice(&[0x41, 5]);
    returns_i32("20k nested loops/ifs", &func_module(&[], &c), 5);

    // 64k nested blocks, each branched out of (`i32.const 0; br_if 0`): a
    // 64k-deep dominator tree, beyond what Cranelift optimises in bounded
    // time (see weft_cranelift::MAX_OPTIMIZED_BLOCKS).
    let depth = 64_000;
    let mut c = Vec::new();
    for _ in 0..depth {
        c.extend_from_slice(&[0x02, 0x40, 0x41, 0, 0x0d, 0]);
    }
    c.extend(std::iter::repeat_n(0x0b, depth));
    c.extend_from_slice(&[0x41, 42]);
    returns_i32("64k nested blocks with branches", &func_module(&[], &c), 42);
}

#[test]
fn unbalanced_and_misnested_blocks() {
    let mut c = Vec::new();
    for _ in 0..100_000 {
        c.extend_from_slice(&[0x02, 0x40]);
    }
    rejects(
        "100k unclosed blocks",
        &func_module(&[], &c),
        "control frames remain",
    );
    let mut c = vec![0x41, 1];
    c.extend(std::iter::repeat_n(0x0b, 1000));
    rejects(
        "1000 extra ends",
        &func_module(&[], &c),
        "operators remaining after end",
    );
    rejects(
        "br to nowhere",
        &func_module(&[], &[0x0c, 0x80, 0x80, 0x04]),
        "unknown label",
    );
}

#[test]
fn giant_function_bodies() {
    // ~1.5 MB of straight-line code: compiles and runs.
    let n = 250_000;
    let mut c = vec![0x41, 0];
    for _ in 0..n {
        c.extend_from_slice(&[0x41, 1, 0x6a]); // i32.const 1; i32.add
    }
    returns_i32("250k adds", &func_module(&[], &c), n);
    let wasm = func_module(&[], &c);
    let mut conf = Config::new();
    conf.max_function_body_size(100_000);
    rejects_with(
        "250k adds, body limit",
        &Engine::new(&conf).unwrap(),
        &wasm,
        "max_function_body_size",
    );
    // Beyond wasmparser's 7,654,321-byte limit.
    let mut c = vec![0x01; 8_000_000]; // nop
    c.extend_from_slice(&[0x41, 0]);
    rejects("8 MB body", &func_module(&[], &c), "function body size");
}

#[test]
fn huge_br_table() {
    let n = 100_000u64;
    let mut c = vec![0x02, 0x40, 0x41, 3, 0x0e];
    leb(n, &mut c);
    for i in 0..n {
        leb(i % 2, &mut c);
    }
    c.push(0);
    c.extend_from_slice(&[0x0b, 0x41, 9]);
    // Depth 1 is the function body (no results needed at that depth: the
    // branch carries nothing but the body returns i32), so the table is
    // invalid.
    rejects(
        "br_table to the result-typed body",
        &func_module(&[], &c),
        "type mismatch",
    );
    let mut c = vec![0x02, 0x40, 0x02, 0x40, 0x41, 3, 0x0e];
    leb(n, &mut c);
    for i in 0..n {
        leb(i % 2, &mut c);
    }
    c.push(0);
    c.extend_from_slice(&[0x0b, 0x0b, 0x41, 9]);
    returns_i32("100k-entry br_table", &func_module(&[], &c), 9);
}

// ---- locals and signatures ------------------------------------------------

#[test]
fn many_locals() {
    // 50,000 locals (the limit), the last one read.
    let mut c = vec![0x20];
    leb(49_999, &mut c);
    returns_i32("50k locals", &func_module(&[(50_000, I32)], &c), 0);
    rejects(
        "50,001 locals",
        &func_module(&[(50_001, I32)], &[0x41, 0]),
        "too many locals",
    );
    rejects(
        "u32::MAX locals",
        &func_module(&[(u64::from(u32::MAX), I32)], &[0x41, 0]),
        "too many locals",
    );
    rejects(
        "two declarations overflowing u32",
        &func_module(&[(u64::from(u32::MAX), I32), (10, I64)], &[0x41, 0]),
        "too many locals",
    );
    let mut conf = Config::new();
    conf.max_function_locals(1000);
    rejects_with(
        "1001 locals, limit 1000",
        &Engine::new(&conf).unwrap(),
        &func_module(&[(1001, I32)], &[0x41, 0]),
        "max_function_locals",
    );
}

#[test]
fn widest_signatures() {
    // 1000 parameters (wasmparser's limit) and 8 results, called from the
    // host: results 0..8 are the last 8 parameters, reversed.
    let params = vec![I64; 1000];
    let results = vec![I64; 8];
    let mut c = Vec::new();
    for i in (992..1000u64).rev() {
        c.push(0x20);
        leb(i, &mut c);
    }
    let wasm = module(&[
        one_type(&params, &results),
        funcs(1),
        export_f(),
        code(&[body(&[], &c)]),
    ]);
    let engine = engine();
    let m = Module::from_binary(&engine, &wasm).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(1_000_000).unwrap();
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let f = i.get_func(&mut store, "f").unwrap();
    let args: Vec<Val> = (0..1000).map(Val::I64).collect();
    let mut out = vec![Val::I64(0); 8];
    f.call(&mut store, &args, &mut out).unwrap();
    for (k, v) in out.iter().enumerate() {
        assert_eq!(v.unwrap_i64(), 999 - k as i64);
    }
    // 1000 results (wasmparser's limit too), far more than the return
    // registers: the rest go through a return area; every value arrives.
    let mut c = Vec::new();
    for i in 0..1000i64 {
        c.push(0x42);
        sleb(i, &mut c);
    }
    let wasm = module(&[
        one_type(&[], &vec![I64; 1000]),
        funcs(1),
        export_f(),
        code(&[body(&[], &c)]),
    ]);
    let m = bounded("1000 results", || Module::from_binary(&engine, &wasm)).unwrap();
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let f = i.get_func(&mut store, "f").unwrap();
    let mut out = vec![Val::I64(-1); 1000];
    f.call(&mut store, &[], &mut out).unwrap();
    for (k, v) in out.iter().enumerate() {
        assert_eq!(v.unwrap_i64(), k as i64);
    }
    rejects(
        "1001 params",
        &module(&[one_type(&vec![I32; 1001], &[])]),
        "function params",
    );
}

// ---- tables and memories --------------------------------------------------

#[test]
fn huge_tables_and_memories() {
    let table = |min: u64, max: Option<u64>, t64: bool| {
        let mut t = vec![FUNCREF, (max.is_some() as u8) | if t64 { 4 } else { 0 }];
        leb(min, &mut t);
        if let Some(m) = max {
            leb(m, &mut t);
        }
        module(&[(4, items(1, &t))])
    };
    let r = run(
        "table of 4G elements",
        &table(u64::from(u32::MAX), None, false),
    );
    assert!(format!("{:#}", r.unwrap_err()).contains("table minimum size"));
    let r = run("table64 of 2^63 elements", &table(1 << 63, None, true));
    assert!(format!("{:#}", r.unwrap_err()).contains("table minimum size"));
    run("table of 1M elements", &table(1 << 20, None, false)).unwrap();
    rejects(
        "table min > max",
        &table(10, Some(5), false),
        "size minimum must not be greater",
    );

    let memory = |min: u64, max: Option<u64>, m64: bool| {
        let mut t = vec![(max.is_some() as u8) | if m64 { 4 } else { 0 }];
        leb(min, &mut t);
        if let Some(m) = max {
            leb(m, &mut t);
        }
        module(&[(5, items(1, &t))])
    };
    rejects(
        "memory of 65537 pages",
        &memory(65_537, None, false),
        "memory size must be at most",
    );
    rejects(
        "memory64 of 2^49 pages",
        &memory(1 << 49, None, true),
        "memory size must be at most",
    );
    let r = run("memory64 of 2^40 pages", &memory(1 << 40, None, true));
    assert!(format!("{:#}", r.unwrap_err()).contains("memory minimum size"));
    // A full 4 GiB memory is only address space until it is touched.
    run("memory of 65536 pages", &memory(65_536, None, false)).unwrap();

    // memory.grow / table.grow by absurd amounts fail softly.
    let grow = module(&[
        one_type(&[], &[I32]),
        funcs(1),
        (4, items(1, &[FUNCREF, 0, 0])),
        (5, items(1, &[0x00, 0x00])),
        export_f(),
        code(&[body(
            &[],
            &[
                0x41, 0x7f, 0x40, 0x00, // memory.grow(-1 = 4G pages)
                0xd0, FUNCREF, 0x41, 0x7f, 0xfc, 15, 0,    // table.grow(null, -1)
                0x6a, // add: -1 + -1
            ],
        )]),
    ]);
    returns_i32("grow by 2^32-1", &grow, -2);
}

#[test]
fn out_of_range_segments_trap_at_instantiation() {
    let mut data = vec![0x00, 0x41];
    sleb(65_530, &mut data);
    data.push(0x0b);
    name(&[1u8; 10], &mut data);
    let wasm = module(&[(5, items(1, &[0x00, 0x01])), (11, items(1, &data))]);
    let e = run("data past the end", &wasm).unwrap_err();
    assert_eq!(
        e.downcast_ref::<Trap>(),
        Some(&Trap::MemoryOutOfBounds),
        "{e:#}"
    );

    let mut elem = vec![0x00, 0x41];
    sleb(-1, &mut elem);
    elem.push(0x0b);
    leb(1, &mut elem);
    elem.push(0);
    let wasm = module(&[
        one_type(&[], &[]),
        funcs(1),
        (4, items(1, &[FUNCREF, 0, 1])),
        (9, items(1, &elem)),
        code(&[body(&[], &[])]),
    ]);
    let e = run("elements past the end", &wasm).unwrap_err();
    assert_eq!(
        e.downcast_ref::<Trap>(),
        Some(&Trap::TableOutOfBounds),
        "{e:#}"
    );
}

// ---- names and custom sections ----------------------------------------------

#[test]
fn long_names_and_big_custom_sections() {
    // 100,000 bytes is wasmparser's longest string.
    let long = vec![b'x'; 100_000];
    let mut e = Vec::new();
    name(&long, &mut e);
    e.extend_from_slice(&[0x00, 0x00]);
    let wasm = module(&[
        one_type(&[], &[I32]),
        funcs(1),
        (7, items(1, &e)),
        code(&[body(&[], &[0x41, 1])]),
    ]);
    run("100 kB export name", &wasm).unwrap();
    let mut e = Vec::new();
    name(&vec![b'x'; 1 << 20], &mut e);
    e.extend_from_slice(&[0x00, 0x00]);
    rejects(
        "1 MiB export name",
        &module(&[(7, items(1, &e))]),
        "string size out of bounds",
    );

    let mut imp = Vec::new();
    name(&long, &mut imp);
    name(&long, &mut imp);
    imp.extend_from_slice(&[0x00, 0x00]);
    let wasm = module(&[one_type(&[], &[]), (2, items(1, &imp))]);
    let engine = engine();
    let m = Module::from_binary(&engine, &wasm).unwrap();
    let mut store = Store::new(&engine, ());
    let err = Instance::new(&mut store, &m, &[]).unwrap_err();
    assert!(format!("{err:#}").contains("imports"), "{err:#}");

    // Names that are not UTF-8.
    let mut e = Vec::new();
    name(&[0xff, 0xfe], &mut e);
    e.extend_from_slice(&[0x00, 0x00]);
    rejects(
        "non-UTF-8 export name",
        &module(&[(7, items(1, &e))]),
        "utf-8",
    );

    // A 16 MiB custom section, and a name section naming 100k functions
    // (most of which do not exist) with long names.
    let mut custom = Vec::new();
    name(b"junk", &mut custom);
    custom.resize(16 << 20, 0xaa);
    let mut names = Vec::new();
    names.push(1); // function names subsection
    let mut sub = Vec::new();
    leb(100_000, &mut sub);
    for i in 0..100_000u64 {
        leb(i, &mut sub);
        name(&[b'n'; 100], &mut sub);
    }
    leb(sub.len() as u64, &mut names);
    names.extend_from_slice(&sub);
    let mut name_section = Vec::new();
    name(b"name", &mut name_section);
    name_section.extend_from_slice(&names);
    let wasm = module(&[
        one_type(&[], &[I32]),
        funcs(1),
        export_f(),
        code(&[body(&[], &[0x41, 3])]),
        (0, custom),
        (0, name_section),
    ]);
    returns_i32("big custom sections", &wasm, 3);
}

// ---- truncation and corruption ----------------------------------------------

/// A small module exercising most sections.
fn sample() -> Vec<u8> {
    wat::parse_str(
        r#"(module
          (type $t (func (param i32) (result i32)))
          (import "env" "g" (global i32))
          (memory 1 2)
          (table 2 funcref)
          (global $m (mut i32) (i32.const 5))
          (func $f (export "f") (result i32)
            (local i32 i64)
            (block (result i32)
              (loop
                global.get $m
                i32.const 1
                i32.sub
                global.set $m
                global.get $m
                br_if 0)
              i32.const 16
              i32.load offset=4
              i32.const 1
              call_indirect (type $t)))
          (func $g (type $t) local.get 0 i32.const 2 i32.mul)
          (elem (i32.const 0) $g $g)
          (data (i32.const 16) "abcdefgh"))"#,
    )
    .unwrap()
}

/// Offsets at which a section ends: a module cut there is still whole.
fn section_ends(wasm: &[u8]) -> Vec<usize> {
    let mut ends = vec![8];
    let mut at = 8;
    while at < wasm.len() {
        at += 1;
        let (mut size, mut shift) = (0usize, 0);
        loop {
            let b = wasm[at];
            at += 1;
            size |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        at += size;
        ends.push(at);
    }
    ends
}

#[test]
fn every_truncation_is_an_error() {
    let wasm = sample();
    let engine = engine();
    let whole = section_ends(&wasm);
    bounded("truncations", || {
        for len in 0..wasm.len() {
            let r = Module::from_binary(&engine, &wasm[..len]);
            // Cut between sections, the module merely lacks its later
            // sections (here that is only valid before the function
            // section or after the code section).
            if let Err(e) = &r {
                assert!(format!("{e:#}").len() > 10, "{len}: {e:#}");
            } else {
                assert!(
                    whole.contains(&len),
                    "a module truncated to {len} bytes compiled"
                );
            }
        }
    });
    Module::from_binary(&engine, &wasm).unwrap();
}

/// Runs `wasm` (any bytes) as far as it goes, with fuel and the import the
/// sample needs; only a crash or a hang can fail this.
fn run_whatever(engine: &Engine, wasm: &[u8]) {
    let Ok(module) = Module::from_binary(engine, wasm) else {
        return;
    };
    let mut store = Store::new(engine, ());
    store.set_fuel(100_000).unwrap();
    let mut imports = Vec::new();
    for import in module.imports() {
        match import.ty() {
            weft::ExternType::Global(g) if g.content == weft::ValType::I32 => {
                imports.push(
                    weft::Global::new(&mut store, *g, Val::I32(0))
                        .unwrap()
                        .into(),
                );
            }
            _ => return,
        }
    }
    let Ok(instance) = Instance::new(&mut store, &module, &imports) else {
        return;
    };
    for (_, ext) in instance.exports(&mut store) {
        if let weft::Extern::Func(f) = ext {
            let ty = f.ty(&store);
            let params: Vec<Val> = ty.params().iter().map(Val::default_for).collect();
            let mut results: Vec<Val> = ty.results().iter().map(Val::default_for).collect();
            let _ = f.call(&mut store, &params, &mut results);
        }
    }
}

#[test]
fn every_single_byte_corruption_is_handled() {
    let wasm = sample();
    let engine = engine();
    bounded("corruptions", || {
        for at in 0..wasm.len() {
            for value in [
                0x00,
                0x01,
                0x7f,
                0x80,
                0xff,
                wasm[at] ^ 0x01,
                wasm[at] ^ 0x40,
            ] {
                let mut bad = wasm.clone();
                bad[at] = value;
                run_whatever(&engine, &bad);
            }
        }
    });
}

#[test]
fn sections_out_of_order_duplicated_or_unknown() {
    let wasm = module(&[funcs(0), one_type(&[], &[])]);
    rejects("function before type", &wasm, "out of order");
    let wasm = module(&[one_type(&[], &[]), one_type(&[], &[])]);
    rejects("two type sections", &wasm, "out of order");
    rejects(
        "unknown section id",
        &module(&[(42, vec![])]),
        "malformed section id",
    );
    rejects("bad magic", b"\0wsa\x01\0\0\0", "magic");
    rejects("bad version", b"\0asm\x02\0\0\0", "version");
    rejects("empty input", b"", "unexpected end");
    let mut wasm = module(&[one_type(&[], &[])]);
    wasm[9] = 0xff; // section size far past the end
    rejects("section size past the end", &wasm, "");
    let wasm = module(&[one_type(&[], &[]), funcs(2), code(&[body(&[], &[])])]);
    rejects("fewer bodies than functions", &wasm, "inconsistent");
}

#[test]
fn nul_bytes_in_function_names() {
    // The debugger image (gdb JIT interface) names every function; a name
    // section may contain any bytes. Regression: a NUL in a name made the
    // ELF writer panic.
    let mut sub = Vec::new();
    leb(1, &mut sub);
    leb(0, &mut sub);
    name(b"a\0b", &mut sub);
    let mut section = Vec::new();
    name(b"name", &mut section);
    section.push(1);
    leb(sub.len() as u64, &mut section);
    section.extend_from_slice(&sub);
    let wasm = module(&[
        one_type(&[], &[I32]),
        funcs(1),
        export_f(),
        code(&[body(&[], &[0x41, 4])]),
        (0, section),
    ]);
    let mut c = Config::new();
    c.debug_info(true).consume_fuel(true);
    let engine = Engine::new(&c).unwrap();
    let m = Module::from_binary(&engine, &wasm).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(100).unwrap();
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let f = i.get_func(&mut store, "f").unwrap();
    let mut out = [Val::I32(0)];
    f.call(&mut store, &[], &mut out).unwrap();
    assert_eq!(out[0].unwrap_i32(), 4);
}

#[test]
fn zzz_peak_memory_stays_bounded() {
    // Named to sort last in the report; the bound is also checked after
    // every case above.
    let rss = peak_rss_mib();
    assert!(rss < MEMORY_BOUND_MIB, "peak RSS {rss} MiB");
}
