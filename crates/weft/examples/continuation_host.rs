//! Driving a wasm generator from Rust with the continuation embedder API:
//! [`ContRef::new`] makes a continuation of a wasm function,
//! [`ContRef::resume`] runs it until it returns or suspends with one of the
//! tags the host handles, and [`Resumed`] says which happened.
//!
//! The generator announces how many values it will produce (tag `start`,
//! no answer expected), then asks the host about each value (tag `ask`:
//! the host answers with a number the generator adds up), and finally
//! returns the sum and the count. Run with
//! `cargo run -p weft --example continuation_host`; it exits with an error
//! if anything differs from what the host expects.

use anyhow::{Result, bail};
use weft::{ContRef, Engine, Instance, Module, Resumed, Store, Val};

const GENERATOR: &str = r#"(module
  (tag $start (export "start") (param i64))
  (tag $ask (export "ask") (param i32) (result i32))
  ;; For i in 0..n: asks the host about i * step and adds its answers.
  (func (export "accumulate") (param $n i32) (param $step i32) (result i32 i32)
    (local $i i32) (local $sum i32)
    (suspend $start (i64.extend_i32_u (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $sum
          (i32.add (local.get $sum)
            (suspend $ask (i32.mul (local.get $i) (local.get $step)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $sum)
    (local.get $i)))"#;

fn main() -> Result<()> {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    // `Module::new` takes the text format as well as binary modules.
    let module = Module::new(&engine, GENERATOR)?;
    let instance = Instance::new(&mut store, &module, &[])?;
    let accumulate = instance
        .get_func(&mut store, "accumulate")
        .expect("exported function");
    let start = instance
        .get_export(&mut store, "start")
        .and_then(|e| e.into_tag())
        .expect("exported tag");
    let ask = instance
        .get_export(&mut store, "ask")
        .and_then(|e| e.into_tag())
        .expect("exported tag");

    let (n, step) = (4, 10);
    let mut k = ContRef::new(&mut store, &accumulate)?;
    // The first resume passes the function's parameters; later ones pass
    // the results of the tag the continuation suspended with.
    let mut args = vec![Val::I32(n), Val::I32(step)];
    let mut asked = Vec::new();
    let results = loop {
        match k.resume(&mut store, &args, &[start, ask])? {
            Resumed::Suspended {
                tag,
                payload,
                continuation,
            } => {
                if tag == start {
                    println!("suspended on `start` with payload {payload:?}");
                    if payload.len() != 1 || payload[0].unwrap_i64() != i64::from(n) {
                        bail!("`start` announced {payload:?}, expected [I64({n})]");
                    }
                    args = Vec::new();
                } else if tag == ask {
                    let x = payload[0].unwrap_i32();
                    let answer = x + 1;
                    println!(
                        "suspended on `ask` with payload {x}; resuming the new \
                         continuation with {answer}"
                    );
                    asked.push(x);
                    args = vec![Val::I32(answer)];
                } else {
                    bail!("suspended with a tag the host did not handle");
                }
                // The old reference is used up; the suspension handed out
                // a new one for the rest of the computation.
                k = continuation;
            }
            Resumed::Returned(results) => break results,
        }
    };
    println!("returned {results:?}");

    let expected_asked: Vec<i32> = (0..n).map(|i| i * step).collect();
    if asked != expected_asked {
        bail!("the generator asked about {asked:?}, expected {expected_asked:?}");
    }
    let expected_sum: i32 = expected_asked.iter().map(|x| x + 1).sum();
    match results.as_slice() {
        [Val::I32(sum), Val::I32(count)] if *sum == expected_sum && *count == n => {}
        _ => bail!("results {results:?}, expected [I32({expected_sum}), I32({n})]"),
    }
    let stats = store.continuation_stats();
    println!(
        "done: sum {expected_sum} of {n} answers; continuations created {}, live {}",
        stats.created, stats.live
    );
    if stats.live != 0 {
        bail!(
            "{} continuation(s) still live after the generator returned",
            stats.live
        );
    }
    Ok(())
}
