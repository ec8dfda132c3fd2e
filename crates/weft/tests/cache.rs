//! The code cache (`Config::cache_directory`): hits and misses, damaged
//! entries, concurrent writers, the size bound. Every test uses its own
//! temporary directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use weft::{CacheStats, Config, Engine, Instance, Module, OptLevel, Store, Val};

fn module_text(n: i32) -> String {
    format!(
        r#"(module (func (export "f") (result i32) i32.const {n})
                   (func (export "g") (param i32) (result i32) local.get 0 i32.const {n} i32.mul))"#
    )
}

/// A module with `funcs` functions (bigger artifacts for more).
fn module_sized(tag: i32, funcs: usize) -> Vec<u8> {
    let mut text = format!("(module (func (export \"f\") (result i32) i32.const {tag})");
    for i in 0..funcs {
        text.push_str(&format!(
            "(func (param i32) (result i32) local.get 0 i32.const {i} i32.add i32.const 3 i32.mul)"
        ));
    }
    text.push(')');
    wat::parse_str(&text).unwrap()
}

fn engine(dir: &Path, f: impl FnOnce(&mut Config)) -> Engine {
    let mut c = Config::new();
    c.cache_directory(Some(dir.to_path_buf()));
    f(&mut c);
    Engine::new(&c).unwrap()
}

fn call_f(engine: &Engine, module: &Module) -> i32 {
    let mut store = Store::new(engine, ());
    let i = Instance::new(&mut store, module, &[]).unwrap();
    let f = i.get_func(&mut store, "f").unwrap();
    let mut r = [Val::I32(0)];
    f.call(&mut store, &[], &mut r).unwrap();
    r[0].unwrap_i32()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn stats(hits: u64, misses: u64, rejected: u64) -> CacheStats {
    CacheStats {
        hits,
        misses,
        rejected,
        write_errors: 0,
    }
}

#[test]
fn miss_then_hit_across_engines() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(module_text(5)).unwrap();
    let e1 = engine(dir.path(), |_| {});
    let m = Module::from_binary(&e1, &wasm).unwrap();
    assert_eq!(e1.cache_stats(), stats(0, 1, 0));
    assert_eq!(call_f(&e1, &m), 5);
    let files = entries(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|x| x == "cwasm"));

    // Same engine, then a new engine (as a second process would).
    let m = Module::from_binary(&e1, &wasm).unwrap();
    assert_eq!(e1.cache_stats(), stats(1, 1, 0));
    assert_eq!(call_f(&e1, &m), 5);
    let e2 = engine(dir.path(), |_| {});
    let m = Module::new(&e2, module_text(5)).unwrap();
    assert_eq!(e2.cache_stats(), stats(1, 0, 0));
    assert_eq!(call_f(&e2, &m), 5);

    // Other bytes, other code-affecting settings: other entries.
    let m = Module::new(&e2, module_text(6)).unwrap();
    assert_eq!(call_f(&e2, &m), 6);
    assert_eq!(e2.cache_stats(), stats(1, 1, 0));
    let e3 = engine(dir.path(), |c| {
        c.cranelift_opt_level(OptLevel::None);
    });
    let m = Module::from_binary(&e3, &wasm).unwrap();
    assert_eq!(e3.cache_stats(), stats(0, 1, 0));
    assert_eq!(call_f(&e3, &m), 5);
    assert_eq!(entries(dir.path()).len(), 3);

    // No cache configured: nothing is counted or written.
    let plain = Engine::default();
    Module::from_binary(&plain, &wasm).unwrap();
    assert_eq!(plain.cache_stats(), CacheStats::default());
}

#[test]
fn damaged_entries_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(module_text(9)).unwrap();
    Module::from_binary(&engine(dir.path(), |_| {}), &wasm).unwrap();
    let path = entries(dir.path()).remove(0);
    let good = std::fs::read(&path).unwrap();

    let damage: [(&str, Box<dyn Fn(&mut Vec<u8>)>); 4] = [
        ("bit flip", Box::new(|b| *b.last_mut().unwrap() ^= 0x10)),
        ("truncated", Box::new(|b| b.truncate(b.len() / 2))),
        ("empty", Box::new(|b| b.clear())),
        (
            "garbage",
            Box::new(|b| b.iter_mut().for_each(|x| *x = 0xa5)),
        ),
    ];
    for (what, f) in damage {
        let mut bad = good.clone();
        f(&mut bad);
        std::fs::write(&path, &bad).unwrap();
        let e = engine(dir.path(), |_| {});
        let m = Module::from_binary(&e, &wasm).unwrap();
        assert_eq!(e.cache_stats(), stats(0, 0, 1), "{what}");
        assert_eq!(call_f(&e, &m), 9, "{what}");
        // Rewritten: a fresh engine hits.
        let e = engine(dir.path(), |_| {});
        Module::from_binary(&e, &wasm).unwrap();
        assert_eq!(e.cache_stats(), stats(1, 0, 0), "{what}");
    }

    // An entry holding another module under this key is not used.
    let other = engine(dir.path(), |_| {})
        .precompile_module(module_text(10).as_bytes())
        .unwrap();
    std::fs::write(&path, other).unwrap();
    let e = engine(dir.path(), |_| {});
    let m = Module::from_binary(&e, &wasm).unwrap();
    assert_eq!(e.cache_stats(), stats(0, 0, 1));
    assert_eq!(call_f(&e, &m), 9);
}

#[test]
fn concurrent_compilations_of_one_module() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = module_sized(3, 200);
    let barrier = std::sync::Barrier::new(6);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let e = engine(dir.path(), |_| {});
                    barrier.wait();
                    let m = Module::from_binary(&e, &wasm).unwrap();
                    call_f(&e, &m)
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 3);
        }
    });
    let files = entries(dir.path());
    assert_eq!(files.len(), 1, "one entry, no temporary files: {files:?}");
    let e = engine(dir.path(), |_| {});
    Module::from_binary(&e, &wasm).unwrap();
    assert_eq!(e.cache_stats(), stats(1, 0, 0));
}

#[test]
fn size_bound_evicts_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        module_sized(1, 20),
        module_sized(2, 20),
        module_sized(3, 60),
    );
    let size = |w: &[u8]| Engine::default().precompile_module(w).unwrap().len() as u64;
    let (sa, sb, sc) = (size(&a), size(&b), size(&c));
    assert!(sb < sc);
    // Room for A + B and for A + C, not for all three.
    let max = sa + sc;
    let e = engine(dir.path(), |cfg| {
        cfg.cache_max_size(max);
    });
    Module::from_binary(&e, &a).unwrap();
    Module::from_binary(&e, &b).unwrap();
    assert_eq!(entries(dir.path()).len(), 2);
    let sizes: u64 = entries(dir.path())
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(sizes, sa + sb, "entries are the artifacts");
    // Make A older than B, then use A: B becomes the least recently used.
    let set_age = |w: &[u8], secs: u64| {
        for p in entries(dir.path()) {
            let bytes = std::fs::read(&p).unwrap();
            if bytes.windows(w.len()).any(|x| x == w) {
                let f = std::fs::File::options().append(true).open(&p).unwrap();
                f.set_modified(SystemTime::now() - Duration::from_secs(secs))
                    .unwrap();
            }
        }
    };
    set_age(&a, 200);
    set_age(&b, 100);
    Module::from_binary(&e, &a).unwrap();
    assert_eq!(e.cache_stats(), stats(1, 2, 0));
    Module::from_binary(&e, &c).unwrap();
    let left: Vec<Vec<u8>> = entries(dir.path())
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(left.len(), 2);
    let holds = |w: &[u8]| left.iter().any(|x| x.windows(w.len()).any(|y| y == w));
    assert!(holds(&a) && holds(&c) && !holds(&b));
}

#[test]
fn unwritable_cache_still_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"x").unwrap();
    let e = engine(&file, |_| {});
    let m = Module::new(&e, module_text(4)).unwrap();
    assert_eq!(call_f(&e, &m), 4);
    let s = e.cache_stats();
    assert_eq!((s.hits, s.write_errors), (0, 1), "{s:?}");
}

#[test]
fn default_directory_follows_xdg() {
    // Only reads the environment; nothing is created.
    let d = weft::default_cache_directory();
    match std::env::var_os("XDG_CACHE_HOME").filter(|v| Path::new(v).is_absolute()) {
        Some(x) => assert_eq!(d, Some(PathBuf::from(x).join("weft"))),
        None => {
            if let Some(h) = std::env::var_os("HOME").filter(|v| Path::new(v).is_absolute()) {
                assert_eq!(d, Some(PathBuf::from(h).join(".cache/weft")));
            }
        }
    }
}
