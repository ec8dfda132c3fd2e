//! Measures the GC object heap's collections: pause per collection and
//! throughput, for several sizes of the live set.
//!
//! ```text
//! cargo run --release -p weft --example gc_pauses [ITERATIONS]
//! ```
//!
//! The guest keeps `live` pairs of structs in a ring (an array of refs) and
//! replaces one pair per iteration, so every collection copies the ring
//! and its pairs: the pause grows with the live set, and the window after a
//! collection (at least the live size) keeps the collector's share of the
//! time bounded.

use std::time::Instant;
use weft::{Engine, Instance, Module, Store, Val};

const WAT: &str = r#"(module
  (type $node (struct (field $v i64) (field $next (ref null $node))))
  (type $ring (array (mut (ref null $node))))
  (func (export "run") (param $n i32) (param $live i32) (result i64)
    (local $i i32) (local $sum i64) (local $ring (ref null $ring)) (local $node (ref null $node))
    (local.set $ring (array.new_default $ring (local.get $live)))
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $node (struct.new $node (i64.extend_i32_u (local.get $i)) (ref.null $node)))
        (array.set $ring (local.get $ring) (i32.rem_u (local.get $i) (local.get $live))
          (struct.new $node (i64.const 1) (local.get $node)))
        (local.set $sum (i64.add (local.get $sum) (struct.get $node $v (local.get $node))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
    (local.get $sum)))"#;

fn main() -> weft::Result<()> {
    let n: i32 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("ITERATIONS is a number"))
        .unwrap_or(20_000_000);
    let engine = Engine::default();
    let module = Module::new(&engine, WAT)?;
    println!("{n} iterations (2 structs of 24 bytes each) per live-set size");
    println!(
        "| live pairs | live bytes | collections | mean pause (us) | last pause (us) | GC share of time | ns per iteration |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for live in [1_000, 10_000, 100_000, 1_000_000] {
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[])?;
        let run = instance.get_func(&mut store, "run").unwrap();
        let mut out = [Val::I64(0)];
        let t = Instant::now();
        run.call(&mut store, &[Val::I32(n), Val::I32(live)], &mut out)?;
        let wall = t.elapsed();
        let s = store.gc_heap_stats();
        let mean = s.total_pause_ns as f64 / s.collections.max(1) as f64 / 1e3;
        println!(
            "| {live} | {} | {} | {mean:.1} | {:.1} | {:.1}% | {:.2} |",
            s.bytes_live,
            s.collections,
            s.last_pause_ns as f64 / 1e3,
            100.0 * s.total_pause_ns as f64 / wall.as_nanos() as f64,
            wall.as_nanos() as f64 / f64::from(n),
        );
    }
    Ok(())
}
