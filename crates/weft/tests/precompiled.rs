//! Precompiled modules: `Engine::precompile_module` -> `Module::deserialize`
//! round trips, fingerprint mismatches and damaged artifacts.

use weft::{Config, Engine, Func, FuncType, Instance, Module, OptLevel, Store, Trap, Val, ValType};

/// Exercises what an artifact must carry: imports, a data segment, a
/// global, a table with `call_indirect` (canonical type ids), traps with
/// backtraces (trap table, address map, names), SIMD, and a function whose
/// code needs a libcall relocation on CPUs without the instruction
/// (`f64.nearest`).
const MODULE: &str = r#"(module $m
  (type $ii (func (param i32) (result i32)))
  (import "host" "double" (func $double (param i32) (result i32)))
  (memory (export "memory") 1 4)
  (data (i32.const 16) "precompiled!")
  (global $g (mut i32) (i32.const 7))
  (table 3 funcref)
  (elem (i32.const 0) $inc $twice $double)
  (func $inc (type $ii) local.get 0 i32.const 1 i32.add)
  (func $twice (type $ii) local.get 0 call $double)
  (func (export "dispatch") (param i32 i32) (result i32)
    local.get 1 local.get 0 call_indirect (type $ii))
  (func (export "bump") (result i32)
    global.get $g i32.const 1 i32.add global.set $g global.get $g)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load8_u)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "nearest") (param f64) (result f64) local.get 0 f64.nearest)
  (func (export "dot") (param i32 i32) (result i32)
    local.get 0 i32x4.splat local.get 1 i32x4.splat i32x4.mul
    i32x4.extract_lane 2)
  (func $inner (param i32) (result i32) local.get 0 i32.const 0 i32.div_u)
  (func $middle (param i32) (result i32) local.get 0 call $inner)
  (func (export "trap") (param i32) (result i32) local.get 0 call $middle)
)"#;

/// Runs a fixed script of calls against an instance of `module` and
/// returns what every call gave (results, or the trap and backtrace names).
fn exercise(engine: &Engine, module: &Module) -> Vec<String> {
    let mut store = Store::new(engine, ());
    let double = Func::new(
        &mut store,
        FuncType::new([ValType::I32], [ValType::I32]),
        |_, args, out| {
            out[0] = Val::I32(args[0].unwrap_i32() * 2);
            Ok(())
        },
    );
    let instance = Instance::new(&mut store, module, &[double.into()]).unwrap();
    let calls: &[(&str, Vec<Val>)] = &[
        ("dispatch", vec![Val::I32(0), Val::I32(41)]),
        ("dispatch", vec![Val::I32(1), Val::I32(21)]),
        ("dispatch", vec![Val::I32(2), Val::I32(5)]),
        ("dispatch", vec![Val::I32(3), Val::I32(5)]),
        ("bump", vec![]),
        ("bump", vec![]),
        ("load", vec![Val::I32(16)]),
        ("load", vec![Val::I32(27)]),
        ("load", vec![Val::I32(65536)]),
        ("grow", vec![Val::I32(1)]),
        ("load", vec![Val::I32(65536)]),
        ("grow", vec![Val::I32(5)]),
        ("nearest", vec![Val::F64(2.5f64.to_bits())]),
        ("nearest", vec![Val::F64((-3.7f64).to_bits())]),
        ("dot", vec![Val::I32(6), Val::I32(7)]),
        ("trap", vec![Val::I32(1)]),
    ];
    let mut out = Vec::new();
    for (name, args) in calls {
        let f = instance.get_func(&mut store, name).unwrap();
        let ty = f.ty(&store);
        let mut results: Vec<Val> = ty.results().iter().map(Val::default_for).collect();
        match f.call(&mut store, args, &mut results) {
            Ok(()) => out.push(format!("{name} -> {results:?}")),
            Err(e) => {
                let trap = e.downcast_ref::<Trap>().copied();
                let frames: Vec<String> = e
                    .downcast_ref::<weft::WasmBacktrace>()
                    .map(|bt| {
                        bt.frames
                            .iter()
                            .map(|f| {
                                format!(
                                    "{}@{:?}",
                                    f.func_name.clone().unwrap_or_default(),
                                    f.module_offset
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(format!("{name} -> trap {trap:?} at {frames:?}"));
            }
        }
    }
    out
}

#[test]
fn round_trip_runs_identically() {
    let engine = Engine::default();
    let compiled = Module::new(&engine, MODULE).unwrap();
    let expected = exercise(&engine, &compiled);
    // The script really observes behaviour: spot-check some of it.
    assert_eq!(expected[0], "dispatch -> [I32(42)]");
    assert_eq!(expected[2], "dispatch -> [I32(10)]");
    assert!(expected[3].contains("trap Some("), "{}", expected[3]);
    assert!(expected[8].contains("MemoryOutOfBounds"), "{}", expected[8]);
    assert!(
        expected[15].contains("IntegerDivisionByZero") && expected[15].contains("inner@Some("),
        "{}",
        expected[15]
    );

    let artifact = engine.precompile_module(MODULE.as_bytes()).unwrap();
    assert!(Engine::detect_precompiled(&artifact));
    assert!(!Engine::detect_precompiled(b"\0asm\x01\0\0\0"));
    // In the same engine and in a fresh one (other canonical type ids).
    for engine in [engine.clone(), Engine::default()] {
        // SAFETY: produced just above by an engine of this build.
        let loaded = unsafe { Module::deserialize(&engine, &artifact) }.unwrap();
        assert_eq!(loaded.name(), Some("m"));
        assert_eq!(
            loaded
                .imports()
                .map(|i| i.name().to_string())
                .collect::<Vec<_>>(),
            ["double"]
        );
        assert_eq!(loaded.exports().len(), compiled.exports().len());
        assert_eq!(exercise(&engine, &loaded), expected);
    }
}

#[test]
fn deserialize_file_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.cwasm");
    let engine = Engine::default();
    std::fs::write(&path, engine.precompile_module(MODULE.as_bytes()).unwrap()).unwrap();
    // SAFETY: written just above.
    let m = unsafe { Module::deserialize_file(&engine, &path) }.unwrap();
    let compiled = Module::new(&engine, MODULE).unwrap();
    assert_eq!(exercise(&engine, &m), exercise(&engine, &compiled));
    // The code runs in place from the file: an executable mapping of it.
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let path_text = path.to_str().unwrap();
    assert!(
        maps.lines()
            .any(|l| l.contains(path_text) && l.split_whitespace().nth(1) == Some("r-xp")),
        "{maps}"
    );
    // ... and nothing of it is writable.
    assert!(
        !maps
            .lines()
            .any(|l| l.contains(path_text) && l.split_whitespace().nth(1).unwrap().contains('w')),
        "{maps}"
    );
    // Damage in a file is caught as in memory.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 1;
    let damaged = dir.path().join("damaged.cwasm");
    std::fs::write(&damaged, &bytes).unwrap();
    // SAFETY: rejected by its checksum before any of it is used.
    let e = unsafe { Module::deserialize_file(&engine, &damaged) }.unwrap_err();
    assert!(format!("{e:#}").contains("checksum mismatch"), "{e:#}");
    bytes.truncate(at);
    std::fs::write(&damaged, &bytes).unwrap();
    // SAFETY: as above (rejected: truncated).
    let e = unsafe { Module::deserialize_file(&engine, &damaged) }.unwrap_err();
    assert!(format!("{e:#}").contains("truncated"), "{e:#}");

    let missing = dir.path().join("missing.cwasm");
    // SAFETY: the file does not exist; nothing is loaded.
    let e = unsafe { Module::deserialize_file(&engine, &missing) }.unwrap_err();
    assert!(format!("{e:#}").contains("missing.cwasm"), "{e:#}");
}

#[test]
fn plain_wasm_is_not_an_artifact() {
    let engine = Engine::default();
    let wasm = wat::parse_str("(module)").unwrap();
    // SAFETY: not an artifact; rejected before anything is interpreted.
    let e = unsafe { Module::deserialize(&engine, &wasm) }.unwrap_err();
    assert!(
        e.to_string().contains("not a weft precompiled module"),
        "{e}"
    );
}

fn load_error(engine: &Engine, bytes: &[u8]) -> String {
    // SAFETY: each artifact tested is one this build wrote (possibly
    // damaged on purpose: the checks must reject it before running code).
    match unsafe { Module::deserialize(engine, bytes) } {
        Ok(_) => panic!("loaded an artifact that should be rejected"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn fingerprint_mismatch_names_the_setting() {
    let build = |f: &dyn Fn(&mut Config)| {
        let mut c = Config::new();
        f(&mut c);
        Engine::new(&c).unwrap()
    };
    let default = Engine::default();
    let artifact = default.precompile_module(MODULE.as_bytes()).unwrap();

    let e = load_error(
        &build(&|c| {
            c.cranelift_opt_level(OptLevel::None);
        }),
        &artifact,
    );
    assert!(e.contains("incompatible"), "{e}");
    assert!(
        e.contains("cranelift.opt_level: module speed, engine none"),
        "{e}"
    );

    let e = load_error(
        &build(&|c| {
            c.epoch_interruption(true);
        }),
        &artifact,
    );
    assert!(
        e.contains("weft.epoch_interruption: module false, engine true"),
        "{e}"
    );

    let e = load_error(
        &build(&|c| {
            c.wasm_simd(false);
        }),
        &artifact,
    );
    assert!(e.contains("wasm.features"), "{e}");

    // Settings that do not change code do not matter.
    let other = build(&|c| {
        c.max_wasm_stack(1 << 20).debug_info(false);
    });
    // SAFETY: written by this build with the same code-affecting settings.
    let m = unsafe { Module::deserialize(&other, &artifact) }.unwrap();
    assert_eq!(exercise(&other, &m)[0], "dispatch -> [I32(42)]");
}

#[test]
fn other_format_version_is_rejected() {
    let engine = Engine::default();
    let mut artifact = engine.precompile_module(MODULE.as_bytes()).unwrap();
    artifact[8..12].copy_from_slice(&99u32.to_le_bytes());
    let e = load_error(&engine, &artifact);
    assert!(e.contains("format version 99"), "{e}");
}

#[test]
fn truncated_artifacts_are_errors() {
    let engine = Engine::default();
    let artifact = engine.precompile_module(MODULE.as_bytes()).unwrap();
    let mut cuts: Vec<usize> = (0..80).collect();
    cuts.extend((80..artifact.len()).step_by(97));
    cuts.push(artifact.len() - 1);
    for cut in cuts {
        let e = load_error(&engine, &artifact[..cut]);
        assert!(
            e.contains("truncated") || e.contains("not a weft precompiled module"),
            "cut at {cut}: {e}"
        );
    }
    let mut longer = artifact.clone();
    longer.push(0);
    assert!(load_error(&engine, &longer).contains("damaged"));
}

#[test]
fn every_flipped_bit_is_an_error() {
    let engine = Engine::default();
    let artifact = engine.precompile_module(MODULE.as_bytes()).unwrap();
    let mut damaged = artifact.clone();
    for i in 0..artifact.len() {
        let bit = 1u8 << (i % 8);
        damaged[i] ^= bit;
        let e = load_error(&engine, &damaged);
        assert!(
            e.contains("damaged")
                || e.contains("truncated")
                || e.contains("incompatible")
                || e.contains("format version")
                || e.contains("not a weft precompiled module"),
            "byte {i}: {e}"
        );
        damaged[i] ^= bit;
    }
    // SAFETY: the undamaged artifact, written by this build.
    unsafe { Module::deserialize(&engine, &damaged) }.unwrap();
}
