//! Copy-on-write memory images (`Config::memory_init_cow`): instances see
//! exactly what copying the data segments would give, keep their writes
//! to themselves, grow, and the cases images cannot express fall back to
//! copying.

use weft::{
    Config, Engine, Extern, Global, GlobalType, Instance, Memory, MemoryType, Module, Mutability,
    Store, Table, Val, ValType,
};

/// A module with `kib` KiB of data in three segments (the last two
/// overlap: the later one wins), 4 initial pages beyond the data.
fn data_module(kib: usize) -> String {
    let bytes = kib << 10;
    let pages = bytes.div_ceil(65536) + 4;
    let a = "a".repeat(bytes / 2);
    let b = "b".repeat(bytes / 2 - 100);
    format!(
        r#"(module
          (memory (export "memory") {pages} {max})
          (data (i32.const 0) "{a}")
          (data (i32.const {bo}) "{b}")
          (data (i32.const {co}) "\01\02\03\04zz")
          (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store8)
          (func (export "load") (param i32) (result i32) local.get 0 i32.load8_u)
          (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))"#,
        max = pages + 8,
        bo = bytes / 2,
        co = bytes / 2 + 10,
    )
}

fn engine(cow: bool) -> Engine {
    let mut c = Config::new();
    c.memory_init_cow(cow);
    Engine::new(&c).unwrap()
}

fn call(store: &mut Store<()>, i: Instance, name: &str, args: &[Val]) -> Option<i32> {
    let f = i.get_func(&mut *store, name).unwrap();
    let mut out: Vec<Val> = f
        .ty(&*store)
        .results()
        .iter()
        .map(Val::default_for)
        .collect();
    f.call(&mut *store, args, &mut out).unwrap();
    out.first().map(|v| v.unwrap_i32())
}

fn memory(store: &mut Store<()>, i: Instance) -> Memory {
    i.get_memory(&mut *store, "memory").unwrap()
}

/// Whether the page at `addr` is mapped from a memory image (per
/// `/proc/self/maps`).
fn mapped_from_image(addr: *const u8) -> bool {
    let prefix = format!("{:x}-", addr as usize);
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .any(|l| l.starts_with(&prefix) && l.contains("weft-memory-image"))
}

#[test]
fn instances_match_copying_and_stay_private() {
    for kib in [64, 1024] {
        let text = data_module(kib);
        let copy_engine = engine(false);
        let m = Module::new(&copy_engine, &text).unwrap();
        let mut s = Store::new(&copy_engine, ());
        let i = Instance::new(&mut s, &m, &[]).unwrap();
        let expected = memory(&mut s, i).data(&s).to_vec();
        assert_eq!(expected[kib << 9], b'b');
        assert_eq!(&expected[(kib << 9) + 10..][..6], b"\x01\x02\x03\x04zz");

        let cow = engine(true);
        let module = Module::new(&cow, &text).unwrap();
        // Many instances in one store and in several stores (one image).
        let mut stores: Vec<Store<()>> = (0..4).map(|_| Store::new(&cow, ())).collect();
        let mut all = Vec::new();
        for (k, s) in stores.iter_mut().enumerate() {
            for _ in 0..5 {
                let i = Instance::new(&mut *s, &module, &[]).unwrap();
                let data = memory(s, i).data(&*s);
                assert_eq!(data, expected.as_slice(), "kib {kib}");
                // The first instance copies, every later one maps the image.
                assert_eq!(mapped_from_image(data.as_ptr()), !all.is_empty());
                all.push((k, i));
            }
        }
        // Writes stay in their instance.
        for (n, (k, i)) in all.iter().enumerate() {
            let s = &mut stores[*k];
            call(s, *i, "store", &[Val::I32(n as i32 * 7), Val::I32(200)]);
        }
        for (n, (k, i)) in all.iter().enumerate() {
            let s = &mut stores[*k];
            let data = memory(s, *i).data(&*s);
            for (m, _) in all.iter().enumerate() {
                let at = m * 7;
                let want = if m == n { 200 } else { expected[at] };
                assert_eq!(data[at], want, "instance {n}, byte {at}");
            }
        }
        // A fresh instance still sees the original data.
        let i = Instance::new(&mut stores[0], &module, &[]).unwrap();
        assert_eq!(
            memory(&mut stores[0], i).data(&stores[0]),
            expected.as_slice()
        );

        // memory.grow: old contents kept, new pages zero and writable.
        let s = &mut stores[1];
        let (_, i) = all[5];
        let old_pages = expected.len() / 65536;
        assert_eq!(call(s, i, "grow", &[Val::I32(3)]), Some(old_pages as i32));
        let data = memory(s, i).data(&*s);
        assert_eq!(data.len(), expected.len() + 3 * 65536);
        // (instance 5 wrote byte 35 above)
        assert_eq!(data[35], 200);
        assert_eq!(&data[36..expected.len()], &expected[36..]);
        assert!(data[expected.len()..].iter().all(|b| *b == 0));
        let top = (data.len() - 1) as i32;
        call(s, i, "store", &[Val::I32(top), Val::I32(9)]);
        assert_eq!(call(s, i, "load", &[Val::I32(top)]), Some(9));
        // Growing past the maximum still fails cleanly.
        assert_eq!(call(s, i, "grow", &[Val::I32(100)]), Some(-1));
    }
}

/// Runs `text` with and without images and returns what each instance
/// saw: Ok(memory bytes) or Err(error text).
fn both_ways(
    text: &str,
    imports: impl Fn(&mut Store<()>) -> Vec<Extern>,
) -> [Result<Vec<u8>, String>; 2] {
    [false, true].map(|cow| {
        let e = engine(cow);
        let m = Module::new(&e, text).unwrap();
        // A first instantiation (its result ignored) so that the measured
        // one is where an image would be used.
        let mut scratch = Store::new(&e, ());
        let imp = imports(&mut scratch);
        let _ = Instance::new(&mut scratch, &m, &imp);
        let mut s = Store::new(&e, ());
        let imp = imports(&mut s);
        match Instance::new(&mut s, &m, &imp) {
            Ok(i) => {
                let mem = match i.get_memory(&mut s, "memory") {
                    Some(m) => m,
                    None => imp.iter().find_map(|e| e.into_memory()).unwrap(),
                };
                Ok(mem.data(&s).to_vec())
            }
            Err(e) => Err(format!("{e}")),
        }
    })
}

#[test]
fn fallbacks_behave_like_copying() {
    let big = "x".repeat(40 << 10);
    // Offset from an imported global.
    let text = format!(
        r#"(module (import "env" "g" (global i32)) (memory (export "memory") 2)
             (data (global.get 0) "{big}"))"#
    );
    let [a, b] = both_ways(&text, |s| {
        vec![
            Global::new(
                &mut *s,
                GlobalType::new(ValType::I32, Mutability::Const),
                Val::I32(100),
            )
            .unwrap()
            .into(),
        ]
    });
    assert_eq!(a.as_ref().unwrap()[100], b'x');
    assert_eq!(a, b);

    // An imported memory.
    let text =
        format!(r#"(module (import "env" "memory" (memory 2)) (data (i32.const 8) "{big}"))"#);
    let [a, b] = both_ways(&text, |s| {
        vec![
            Memory::new(&mut *s, MemoryType::new(2, None))
                .unwrap()
                .into(),
        ]
    });
    assert_eq!(a.as_ref().unwrap()[8], b'x');
    assert_eq!(a, b);

    // A segment out of bounds: a trap either way.
    let text = format!(
        r#"(module (memory (export "memory") 1) (data (i32.const 0) "{big}")
             (data (i32.const 65530) "0123456789"))"#
    );
    let [a, b] = both_ways(&text, |_| vec![]);
    assert!(a.as_ref().unwrap_err().contains("out of bounds"), "{a:?}");
    assert_eq!(a, b);

    // Little data: copied even from the second instance on.
    let e = engine(true);
    let m = Module::new(
        &e,
        r#"(module (memory (export "memory") 1) (data (i32.const 0) "small"))"#,
    )
    .unwrap();
    let mut s = Store::new(&e, ());
    for _ in 0..2 {
        let i = Instance::new(&mut s, &m, &[]).unwrap();
        let data = memory(&mut s, i).data(&s);
        assert_eq!(&data[..5], b"small");
        assert!(!mapped_from_image(data.as_ptr()));
    }
}

/// Element segments are applied before data segments: when one traps, no
/// data may be visible, even through the failed instance's functions that
/// did reach a shared table. (The module is instantiated successfully
/// first, so that the failing instantiation is one that uses the image.)
#[test]
fn element_trap_leaves_memory_empty() {
    let big = "y".repeat(40 << 10);
    let text = format!(
        r#"(module
             (import "env" "table" (table 1 funcref))
             (memory 1)
             (func $read (result i32) i32.const 5 i32.load8_u)
             (elem (i32.const 0) $read)
             (elem (i32.const 1) $read)
             (data (i32.const 0) "{big}"))"#
    );
    for cow in [false, true] {
        let e = engine(cow);
        let m = Module::new(&e, &text).unwrap();
        let mut s = Store::new(&e, ());
        let table = |s: &mut Store<()>, min| {
            Table::new(
                s,
                weft::TableType {
                    element: weft::RefType::FUNCREF,
                    min,
                    max: None,
                    table64: false,
                },
                Val::FuncRef(None),
            )
            .unwrap()
        };
        let big_table = table(&mut s, 2);
        Instance::new(&mut s, &m, &[big_table.into()]).unwrap();
        let table = table(&mut s, 1);
        let err = Instance::new(&mut s, &m, &[table.into()]).unwrap_err();
        assert!(format!("{err}").contains("out of bounds"), "{err}");
        let Some(Val::FuncRef(Some(read))) = table.get(&mut s, 0) else {
            panic!("the first element segment was applied")
        };
        let mut out = [Val::I32(-1)];
        read.call(&mut s, &[], &mut out).unwrap();
        assert_eq!(out[0].unwrap_i32(), 0, "cow {cow}");
    }
}

/// The `/proc/self/maps` line of the mapping containing `addr`.
fn mapping_of(addr: *const u8) -> Option<String> {
    let addr = addr as usize;
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .find(|l| {
            let range = l.split_whitespace().next().unwrap_or("");
            let Some((lo, hi)) = range.split_once('-') else {
                return false;
            };
            let lo = usize::from_str_radix(lo, 16).unwrap();
            let hi = usize::from_str_radix(hi, 16).unwrap();
            (lo..hi).contains(&addr)
        })
        .map(str::to_string)
}

#[test]
fn modules_from_artifact_files_map_their_images_from_the_file() {
    let text = data_module(256);
    let copy_engine = engine(false);
    let m = Module::new(&copy_engine, &text).unwrap();
    let mut s = Store::new(&copy_engine, ());
    let i = Instance::new(&mut s, &m, &[]).unwrap();
    let expected = memory(&mut s, i).data(&s).to_vec();

    let cow = engine(true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.cwasm");
    let artifact = cow.precompile_module(text.as_bytes()).unwrap();
    std::fs::write(&path, &artifact).unwrap();
    // SAFETY: written just above by this build; not modified while used.
    let module = unsafe { Module::deserialize_file(&cow, &path) }.unwrap();
    let path_text = path.to_str().unwrap();
    let mut stores: Vec<Store<()>> = (0..2).map(|_| Store::new(&cow, ())).collect();
    let mut all = Vec::new();
    for (k, s) in stores.iter_mut().enumerate() {
        for _ in 0..3 {
            let i = Instance::new(&mut *s, &module, &[]).unwrap();
            let data = memory(s, i).data(&*s);
            assert_eq!(data, expected.as_slice());
            // Every instance, the first too, maps the artifact's image.
            let line = mapping_of(data.as_ptr()).unwrap();
            assert!(line.contains(path_text), "{line}");
            assert!(!mapped_from_image(data.as_ptr()));
            all.push((k, i));
        }
    }
    for (n, (k, i)) in all.iter().enumerate() {
        call(
            &mut stores[*k],
            *i,
            "store",
            &[Val::I32(n as i32), Val::I32(77)],
        );
    }
    for (n, (k, i)) in all.iter().enumerate() {
        let s = &mut stores[*k];
        let data = memory(s, *i).data(&*s);
        for m in 0..all.len() {
            let want = if m == n { 77 } else { expected[m] };
            assert_eq!(data[m], want, "instance {n}, byte {m}");
        }
    }
    // The writes reached no one else: not the file, not a new instance.
    assert_eq!(std::fs::read(&path).unwrap(), artifact);
    let i = Instance::new(&mut stores[0], &module, &[]).unwrap();
    assert_eq!(
        memory(&mut stores[0], i).data(&stores[0]),
        expected.as_slice()
    );
    // Growing keeps the image's contents below the new pages.
    let (k, i) = all[1];
    let s = &mut stores[k];
    let pages = (expected.len() / 65536) as i32;
    assert_eq!(call(s, i, "grow", &[Val::I32(2)]), Some(pages));
    let data = memory(s, i).data(&*s);
    assert_eq!(data[1], 77);
    assert_eq!(&data[2..expected.len()], &expected[2..]);
    assert!(data[expected.len()..].iter().all(|b| *b == 0));

    // From bytes in memory there is no file: the first instance copies,
    // later ones use a memfd image, as for a compiled module.
    // SAFETY: the artifact written above.
    let from_bytes = unsafe { Module::deserialize(&cow, &artifact) }.unwrap();
    let mut s = Store::new(&cow, ());
    for n in 0..2 {
        let i = Instance::new(&mut s, &from_bytes, &[]).unwrap();
        let data = memory(&mut s, i).data(&s);
        assert_eq!(data, expected.as_slice());
        assert_eq!(mapped_from_image(data.as_ptr()), n > 0);
    }

    // With images off, a module from a file copies its data.
    let copying = engine(false);
    // (Another file: the one above is still in use and must not change.)
    let path = dir.path().join("copying.cwasm");
    std::fs::write(&path, copying.precompile_module(text.as_bytes()).unwrap()).unwrap();
    // SAFETY: as above.
    let module = unsafe { Module::deserialize_file(&copying, &path) }.unwrap();
    let mut s = Store::new(&copying, ());
    let i = Instance::new(&mut s, &module, &[]).unwrap();
    let data = memory(&mut s, i).data(&s);
    assert_eq!(data, expected.as_slice());
    let line = mapping_of(data.as_ptr()).unwrap();
    assert!(!line.contains("copying.cwasm"), "{line}");
}
