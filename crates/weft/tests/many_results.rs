//! Functions with more results than fit in return registers (8 integer
//! and 8 float registers on x86_64): Cranelift returns the rest through a
//! return area the caller provides (`enable_multi_ret_implicit_sret`).
//! Checked through every way into and out of such a function: wasm to
//! wasm (direct, indirect, tail calls, continuations), host to wasm
//! (`Func::call`, typed calls), wasm to host (`Func::new`, `Func::wrap`),
//! and the same again from a precompiled artifact.

use weft::{Engine, Func, FuncType, Instance, Module, Store, Val, ValType};

/// `$twelve(p)` returns p, p+1, ..., p+11; `$mixed(p)` returns 20 values
/// of every numeric type, interleaved; `$ten(p)` returns p*1, ..., p*10.
/// The `check_*` exports call them and fold the results with distinct
/// weights, so a swapped or lost result changes the answer.
const MODULE: &str = r#"(module
  (import "host" "twelve" (func $host12 (param i64) (result i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)))
  (import "host" "ten" (func $host10 (param i64) (result i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)))
  (type $t12 (func (param i64) (result i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)))
  (type $c12 (cont $t12))
  (table 2 funcref)
  (elem (i32.const 0) $twelve $host12)
  (elem declare func $twelve)
  (func $twelve (export "twelve") (type $t12)
    (local.get 0)
    (i64.add (local.get 0) (i64.const 1))
    (i64.add (local.get 0) (i64.const 2))
    (i64.add (local.get 0) (i64.const 3))
    (i64.add (local.get 0) (i64.const 4))
    (i64.add (local.get 0) (i64.const 5))
    (i64.add (local.get 0) (i64.const 6))
    (i64.add (local.get 0) (i64.const 7))
    (i64.add (local.get 0) (i64.const 8))
    (i64.add (local.get 0) (i64.const 9))
    (i64.add (local.get 0) (i64.const 10))
    (i64.add (local.get 0) (i64.const 11)))
  (func $ten (export "ten") (param i64) (result i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    (i64.mul (local.get 0) (i64.const 1))
    (i64.mul (local.get 0) (i64.const 2))
    (i64.mul (local.get 0) (i64.const 3))
    (i64.mul (local.get 0) (i64.const 4))
    (i64.mul (local.get 0) (i64.const 5))
    (i64.mul (local.get 0) (i64.const 6))
    (i64.mul (local.get 0) (i64.const 7))
    (i64.mul (local.get 0) (i64.const 8))
    (i64.mul (local.get 0) (i64.const 9))
    (i64.mul (local.get 0) (i64.const 10)))
  (func $mixed (export "mixed") (param $p i32)
    (result i32 f32 i64 f64 i32 f32 i64 f64 i32 f32 i64 f64 i32 f32 i64 f64 i32 f32 i64 f64)
    (local.get $p)
    (f32.convert_i32_s (i32.add (local.get $p) (i32.const 1)))
    (i64.extend_i32_s (i32.add (local.get $p) (i32.const 2)))
    (f64.convert_i32_s (i32.add (local.get $p) (i32.const 3)))
    (i32.add (local.get $p) (i32.const 4))
    (f32.convert_i32_s (i32.add (local.get $p) (i32.const 5)))
    (i64.extend_i32_s (i32.add (local.get $p) (i32.const 6)))
    (f64.convert_i32_s (i32.add (local.get $p) (i32.const 7)))
    (i32.add (local.get $p) (i32.const 8))
    (f32.convert_i32_s (i32.add (local.get $p) (i32.const 9)))
    (i64.extend_i32_s (i32.add (local.get $p) (i32.const 10)))
    (f64.convert_i32_s (i32.add (local.get $p) (i32.const 11)))
    (i32.add (local.get $p) (i32.const 12))
    (f32.convert_i32_s (i32.add (local.get $p) (i32.const 13)))
    (i64.extend_i32_s (i32.add (local.get $p) (i32.const 14)))
    (f64.convert_i32_s (i32.add (local.get $p) (i32.const 15)))
    (i32.add (local.get $p) (i32.const 16))
    (f32.convert_i32_s (i32.add (local.get $p) (i32.const 17)))
    (i64.extend_i32_s (i32.add (local.get $p) (i32.const 18)))
    (f64.convert_i32_s (i32.add (local.get $p) (i32.const 19))))
  ;; sum over k of (k+1) * r_k, for the 12 results on the stack
  (func $fold12 (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
    (i64.mul (local.get 0) (i64.const 1))
    (i64.add (i64.mul (local.get 1) (i64.const 2)))
    (i64.add (i64.mul (local.get 2) (i64.const 3)))
    (i64.add (i64.mul (local.get 3) (i64.const 4)))
    (i64.add (i64.mul (local.get 4) (i64.const 5)))
    (i64.add (i64.mul (local.get 5) (i64.const 6)))
    (i64.add (i64.mul (local.get 6) (i64.const 7)))
    (i64.add (i64.mul (local.get 7) (i64.const 8)))
    (i64.add (i64.mul (local.get 8) (i64.const 9)))
    (i64.add (i64.mul (local.get 9) (i64.const 10)))
    (i64.add (i64.mul (local.get 10) (i64.const 11)))
    (i64.add (i64.mul (local.get 11) (i64.const 12))))
  (func (export "direct") (param i64) (result i64)
    (call $fold12 (call $twelve (local.get 0))))
  (func (export "indirect") (param i64 i32) (result i64)
    (call $fold12 (call_indirect (type $t12) (local.get 0) (local.get 1))))
  (func $tail (export "tail") (type $t12)
    (return_call $twelve (i64.add (local.get 0) (i64.const 100))))
  (func $tail_indirect (type $t12)
    (return_call_indirect (type $t12) (local.get 0) (i32.const 0)))
  (func (export "via_tail") (param i64) (result i64)
    (call $fold12 (call $tail (local.get 0))))
  (func (export "via_tail_indirect") (param i64) (result i64)
    (call $fold12 (call $tail_indirect (local.get 0))))
  (func (export "host") (param i64) (result i64)
    (call $fold12 (call $host12 (local.get 0))))
  (func (export "host_ten") (param i64) (result i64)
    (local $s i64)
    (call $host10 (local.get 0))
    local.set $s                                        ;; r9
    i64.const 100 i64.mul
    local.get $s i64.add local.set $s                   ;; + 100 r8
    i64.const 10000 i64.mul
    local.get $s i64.add local.set $s                   ;; + 10^4 r7
    drop drop drop drop drop drop                       ;; r6 .. r1
    i64.const 1000000 i64.mul
    local.get $s i64.add)                               ;; + 10^6 r0
  (func (export "resumed") (param i64) (result i64)
    (call $fold12
      (resume $c12 (local.get 0) (cont.new $c12 (ref.func $twelve)))))
)"#;

/// What `$fold12` gives for `$twelve(p)`-like results p+o, ..., p+o+11.
fn fold12(p: i64, o: i64) -> i64 {
    (0..12).map(|k| (k + 1) * (p + o + k)).sum()
}

fn host_funcs(store: &mut Store<()>) -> Vec<weft::Extern> {
    let twelve = Func::new(
        &mut *store,
        FuncType::new([ValType::I64], vec![ValType::I64; 12]),
        |_, args, out| {
            let p = args[0].unwrap_i64();
            for (k, o) in out.iter_mut().enumerate() {
                *o = Val::I64(p + 1000 + k as i64);
            }
            Ok(())
        },
    );
    let ten = Func::wrap(&mut *store, |p: i64| {
        (
            p,
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5,
            p + 6,
            p + 7,
            p + 8,
            p + 9,
        )
    });
    vec![twelve.into(), ten.into()]
}

fn call(store: &mut Store<()>, i: &Instance, name: &str, args: &[Val]) -> Vec<Val> {
    let f = i.get_func(&mut *store, name).unwrap();
    let ty = f.ty(&*store);
    let mut out: Vec<Val> = ty.results().iter().map(Val::default_for).collect();
    f.call(&mut *store, args, &mut out)
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
    out
}

fn i64s(v: &[Val]) -> Vec<i64> {
    v.iter().map(Val::unwrap_i64).collect()
}

/// Every check, against an instance of `module`.
fn exercise(engine: &Engine, module: &Module) {
    let mut store = Store::new(engine, ());
    let imports = host_funcs(&mut store);
    let i = Instance::new(&mut store, module, &imports).unwrap();
    let s = &mut store;

    // Host to wasm, through the array trampoline.
    assert_eq!(
        i64s(&call(s, &i, "twelve", &[Val::I64(-5)])),
        (-5..7).collect::<Vec<i64>>()
    );
    assert_eq!(
        i64s(&call(s, &i, "tail", &[Val::I64(1)])),
        (101..113).collect::<Vec<i64>>()
    );
    let mixed = call(s, &i, "mixed", &[Val::I32(40)]);
    assert_eq!(mixed.len(), 20);
    for (k, v) in mixed.iter().enumerate() {
        let want = 40 + k as i32;
        match k % 4 {
            0 => assert_eq!(v.unwrap_i32(), want, "result {k}"),
            1 => assert_eq!(v.unwrap_f32(), want as f32, "result {k}"),
            2 => assert_eq!(v.unwrap_i64(), i64::from(want), "result {k}"),
            _ => assert_eq!(v.unwrap_f64(), f64::from(want), "result {k}"),
        }
    }

    // Typed calls (tuples go up to 10 values: two beyond the registers).
    let ten = i
        .get_func(&mut *s, "ten")
        .unwrap()
        .typed::<i64, (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64)>(&*s)
        .unwrap();
    assert_eq!(
        ten.call(&mut *s, 3).unwrap(),
        (3, 6, 9, 12, 15, 18, 21, 24, 27, 30)
    );

    // Wasm to wasm, and wasm to host.
    for p in [0i64, 7, -1_000_000] {
        assert_eq!(
            call(s, &i, "direct", &[Val::I64(p)])[0].unwrap_i64(),
            fold12(p, 0)
        );
        assert_eq!(
            call(s, &i, "indirect", &[Val::I64(p), Val::I32(0)])[0].unwrap_i64(),
            fold12(p, 0)
        );
        assert_eq!(
            call(s, &i, "via_tail", &[Val::I64(p)])[0].unwrap_i64(),
            fold12(p, 100)
        );
        assert_eq!(
            call(s, &i, "via_tail_indirect", &[Val::I64(p)])[0].unwrap_i64(),
            fold12(p, 0)
        );
        assert_eq!(
            call(s, &i, "host", &[Val::I64(p)])[0].unwrap_i64(),
            fold12(p, 1000)
        );
        // `call_indirect` of the imported host function (slot 1).
        assert_eq!(
            call(s, &i, "indirect", &[Val::I64(p), Val::I32(1)])[0].unwrap_i64(),
            fold12(p, 1000)
        );
        // r9 + 100 r8 + 10^4 r7 + 10^6 r0 of the wrapped closure's results.
        assert_eq!(
            call(s, &i, "host_ten", &[Val::I64(p)])[0].unwrap_i64(),
            (p + 9) + 100 * (p + 8) + 10_000 * (p + 7) + 1_000_000 * p
        );
        assert_eq!(
            call(s, &i, "resumed", &[Val::I64(p)])[0].unwrap_i64(),
            fold12(p, 0)
        );
    }
}

#[test]
fn many_results_compile_and_run() {
    let engine = Engine::default();
    let module = Module::new(&engine, MODULE).unwrap();
    exercise(&engine, &module);
}

#[test]
fn many_results_from_a_precompiled_artifact() {
    let engine = Engine::default();
    let artifact = engine.precompile_module(MODULE.as_bytes()).unwrap();
    // The setting changes the code of such functions, so artifacts name it.
    let needle = b"cranelift.enable_multi_ret_implicit_sret=true";
    assert!(
        artifact.windows(needle.len()).any(|w| w == needle),
        "the fingerprint does not record enable_multi_ret_implicit_sret"
    );
    for engine in [engine.clone(), Engine::default()] {
        // SAFETY: produced just above by an engine of this build.
        let module = unsafe { Module::deserialize(&engine, &artifact) }.unwrap();
        exercise(&engine, &module);
    }
}

/// The largest result count wasm allows (1,000) compiles and returns every
/// value in place.
#[test]
fn a_thousand_results() {
    let results = " i64".repeat(1000);
    let body: String = (0..1000).map(|k| format!("(i64.const {k})")).collect();
    let wat = format!(
        r#"(module
          (func $f (result{results}) {body})
          (func (export "f") (result{results}) (call $f))
          (func (export "pick") (result i64) (local $t i64)
            call $f
            i64.const 7 i64.mul local.set $t
            {drops}
            local.get $t i64.add))"#,
        drops = "drop ".repeat(998),
    );
    let engine = Engine::default();
    let module = Module::new(&engine, &wat).unwrap();
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &module, &[]).unwrap();
    let out = call(&mut store, &i, "f", &[]);
    assert_eq!(i64s(&out), (0..1000).collect::<Vec<i64>>());
    // r0 + 7 r999 (r1 .. r998 dropped).
    assert_eq!(call(&mut store, &i, "pick", &[])[0].unwrap_i64(), 7 * 999);
}
