//! Differential fuzzer for weft: wasm-smith generates modules (terminating,
//! NaN-canonicalising, deterministic proposals only); each runs in weft
//! and in wasmi, the in-process oracle, and the two outcomes (results,
//! trap kinds, final globals, memories and tables) must be equal.
//!
//! ```text
//! weft-fuzz [--seed S] [--cases N] [--threads T] [--out DIR] [--ci]
//!
//!   case i of seed S: bytes = SplitMix(S, i) -> wasm-smith -> module
//!   weft outcome == wasmi outcome ?  passed : failed
//!   failed -> shrink the module (wasm-shrink) while it still diverges,
//!             write DIR/fuzz-S-i.wast asserting the oracle's behaviour
//! ```
//!
//! `--continuations` runs instead random stack-switching programs checked
//! against a model (`continuations.rs`), `--exceptions` random
//! exception-handling programs checked against another (`exceptions.rs`);
//! `--ci` runs 1,500 of each, then 20,000 wasm-smith cases of seed 1, and
//! exits non-zero on any
//! divergence; without it the run prints progress and ends with `N passed,
//! M failed` (plus how many cases were skipped, and why).
//! Every case is reproducible from its seed and index: `--seed S --case I`
//! reruns one.

mod continuations;
mod exceptions;
mod exec;

use exec::{Outcome, Step};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A small, fast, reproducible generator of random bytes.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

struct Options {
    seed: u64,
    cases: u64,
    single: Option<u64>,
    from: u64,
    write: bool,
    threads: usize,
    out: PathBuf,
    ci: bool,
    /// `--continuations`: only the continuation programs.
    continuations: bool,
    /// `--exceptions`: only the exception-handling programs.
    exceptions: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        seed: 1,
        cases: 1000,
        single: None,
        from: 0,
        write: false,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        out: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/wast")),
        ci: false,
        continuations: false,
        exceptions: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let num = |s: String| {
            s.replace('_', "")
                .parse::<u64>()
                .map_err(|e| format!("{s}: {e}"))
        };
        match a.as_str() {
            "--seed" => o.seed = num(value("--seed")?)?,
            "--cases" => o.cases = num(value("--cases")?)?,
            "--case" => o.single = Some(num(value("--case")?)?),
            "--from" => o.from = num(value("--from")?)?,
            "--write" => o.write = true,
            "--threads" => o.threads = num(value("--threads")?)?.max(1) as usize,
            "--out" => o.out = PathBuf::from(value("--out")?),
            "--continuations" => o.continuations = true,
            "--exceptions" => o.exceptions = true,
            "--ci" => {
                o.ci = true;
                o.seed = 1;
                o.cases = 20_000;
            }
            "-h" | "--help" => {
                println!(
                    "weft-fuzz [--continuations | --exceptions] [--seed S] [--cases N] [--from I] [--case I] [--threads T] [--out DIR] [--ci] [--write]\n\
                     --continuations: random stack-switching programs checked against a model (not wasm-smith)\n\
                     --exceptions: random exception-handling programs checked against a model (not wasm-smith)\n\
                     --ci: 1,500 continuation cases, 1,500 exception cases, then 20,000 wasm-smith cases (seed 1)\n\
                     --write: also write passing cases as .wast (the oracle's results)"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

/// The wasm-smith configuration: proposals both engines implement
/// deterministically, terminating code, canonical NaNs.
fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        canonicalize_nans: true,
        export_everything: true,
        max_imports: 0,
        min_funcs: 0,
        max_funcs: 20,
        max_instructions: 300,
        max_memories: 2,
        max_tables: 2,
        max_memory32_bytes: 1 << 22,
        max_memory64_bytes: 1 << 22,
        max_table_elements: 1000,
        multi_value_enabled: true,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        tail_call_enabled: true,
        extended_const_enabled: true,
        memory64_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        simd_enabled: std::env::var_os("WEFT_FUZZ_NO_SIMD").is_none(),
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        ..wasm_smith::Config::default()
    }
}

/// Case `index` of `seed`: a wasm module, or `None` when wasm-smith could
/// not make one from the bytes.
fn generate(seed: u64, index: u64) -> Option<Vec<u8>> {
    let mut rng = SplitMix(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ index);
    let len = 1024 + (rng.next_u64() % 16384) as usize;
    let bytes: Vec<u8> = (0..len.div_ceil(8))
        .flat_map(|_| rng.next_u64().to_le_bytes())
        .collect();
    let mut u = arbitrary::Unstructured::new(&bytes);
    let mut m = match wasm_smith::Module::new(smith_config(), &mut u) {
        Ok(m) => m,
        Err(e) => {
            if std::env::var_os("WEFT_FUZZ_DEBUG").is_some() {
                eprintln!("wasm-smith: {e}");
            }
            return None;
        }
    };
    if let Err(e) = m.ensure_termination(10_000) {
        if std::env::var_os("WEFT_FUZZ_DEBUG").is_some() {
            eprintln!("ensure_termination: {e}");
        }
        return None;
    }
    let wasm = m.to_bytes();
    if let Some(path) = std::env::var_os("WEFT_FUZZ_DUMP") {
        let _ = std::fs::write(path, &wasm);
    }
    Some(wasm)
}

/// What one case came to.
enum Verdict {
    /// Equal outcomes: (calls compared, of which trapped).
    Passed(u64, u64),
    /// Not comparable: (reason).
    Skipped(&'static str),
    Failed(String),
}

struct Engines {
    weft: weft::Engine,
    wasmi: wasmi::Engine,
}

impl Engines {
    fn new() -> Engines {
        let mut c = weft::Config::new();
        c.parallel_compilation(false);
        Engines {
            weft: weft::Engine::new(&c).expect("weft engine"),
            wasmi: exec::wasmi_engine(),
        }
    }

    /// Runs `wasm` in both engines (arguments from `seed`).
    fn compare(&self, wasm: &[u8], seed: u64) -> Verdict {
        let oracle = match exec::run_wasmi(&self.wasmi, wasm, seed) {
            Ok(o) => o,
            Err(_) => return Verdict::Skipped("wasmi rejects the module"),
        };
        if std::env::var_os("WEFT_FUZZ_ONLY_WASMI").is_some() {
            return Verdict::Skipped("only wasmi was run (WEFT_FUZZ_ONLY_WASMI)");
        }
        let module = match exec::weft_compile(&self.weft, wasm) {
            Ok(m) => m,
            // A known limitation (README feature table): more results than
            // Cranelift returns in registers.
            Err(e) if e.contains("Too many return values") => {
                return Verdict::Skipped(
                    "a function returns too many values for weft (known limitation)",
                );
            }
            Err(e) => return Verdict::Failed(format!("weft rejects a module wasmi accepts: {e}")),
        };
        let weft = exec::run_weft(&self.weft, &module, seed);
        if weft.inconclusive() || oracle.inconclusive() {
            return Verdict::Skipped("stack overflow (engines' stack limits differ)");
        }
        match first_difference(&weft, &oracle) {
            None => {
                let traps = weft
                    .calls
                    .iter()
                    .filter(|c| matches!(c.2, Step::Trapped(_)))
                    .count();
                Verdict::Passed(weft.calls.len() as u64, traps as u64)
            }
            Some(d) => Verdict::Failed(d),
        }
    }
}

fn first_difference(weft: &Outcome, oracle: &Outcome) -> Option<String> {
    // Both refusing to instantiate (e.g. beyond the store limits) agree,
    // whatever their messages say.
    let both_refuse = matches!(
        (&weft.instantiation, &oracle.instantiation),
        (Some(Step::Failed(_)), Some(Step::Failed(_)))
    );
    if weft.instantiation != oracle.instantiation && !both_refuse {
        return Some(format!(
            "instantiation: weft {:?}, wasmi {:?}",
            weft.instantiation, oracle.instantiation
        ));
    }
    for (w, o) in weft.calls.iter().zip(&oracle.calls) {
        if w != o {
            return Some(format!(
                "call {} {:?}: weft {:?}, wasmi {:?}",
                w.0, w.1, w.2, o.2
            ));
        }
    }
    if weft.calls.len() != oracle.calls.len() {
        return Some("different numbers of exported functions".into());
    }
    if weft.globals != oracle.globals {
        return Some(format!(
            "globals: weft {:?}, wasmi {:?}",
            weft.globals, oracle.globals
        ));
    }
    if weft.memories != oracle.memories {
        return Some(format!(
            "memories: weft {:?}, wasmi {:?}",
            weft.memories, oracle.memories
        ));
    }
    if weft.tables != oracle.tables {
        return Some(format!(
            "tables: weft {:?}, wasmi {:?}",
            weft.tables, oracle.tables
        ));
    }
    None
}

/// Runs one case, catching panics from either engine as failures.
fn run_case(engines: &Engines, seed: u64, index: u64) -> (Verdict, Option<Vec<u8>>) {
    let Some(wasm) = generate(seed, index) else {
        return (Verdict::Skipped("wasm-smith produced no module"), None);
    };
    let arg_seed = seed ^ index.rotate_left(32);
    let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engines.compare(&wasm, arg_seed)
    }))
    .unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Verdict::Failed(format!("panic: {msg}"))
    });
    (verdict, Some(wasm))
}

/// Shrinks a diverging module while it keeps diverging, then writes a
/// `.wast` script asserting the oracle's behaviour.
fn minimise_and_write(
    engines: &Engines,
    wasm: Vec<u8>,
    seed: u64,
    index: u64,
    why: &str,
    out_dir: &std::path::Path,
) -> anyhow::Result<PathBuf> {
    let arg_seed = seed ^ index.rotate_left(32);
    let still_fails = |w: &[u8]| -> anyhow::Result<bool> {
        let v = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engines.compare(w, arg_seed)
        }));
        Ok(matches!(v, Ok(Verdict::Failed(_)) | Err(_)))
    };
    // Only a diverging module can be shrunk (the predicate must hold).
    let small = if still_fails(&wasm)? {
        match wasm_shrink::WasmShrink::default()
            .attempts(500)
            .run(wasm.clone(), still_fails)
        {
            Ok(info) => info.output,
            Err(_) => wasm,
        }
    } else {
        wasm
    };
    let text = wasmprinter::print_bytes(&small)?;
    let oracle = exec::run_wasmi(&engines.wasmi, &small, arg_seed).map_err(anyhow::Error::msg)?;
    let mut script = format!(
        ";; Found by the differential fuzzer (fuzz/): weft-fuzz --seed {seed} --case {index}\n\
         ;; {}\n;; Expected behaviour from wasmi, after shrinking.\n",
        why.replace('\n', " ")
    );
    match &oracle.instantiation {
        Some(Step::Trapped(t)) => {
            script.push_str(&format!("(assert_trap\n{text}\n  \"{}\")\n", t.message()));
        }
        Some(other) => script.push_str(&format!("{text}\n;; instantiation: {other:?}\n")),
        None => script.push_str(&format!("{text}\n")),
    }
    for (name, args, step) in &oracle.calls {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let invoke = format!("(invoke {name:?} {})", args.join(" "));
        match step {
            Step::Returned(vals) => {
                let vals: Vec<String> = vals.iter().map(|v| v.to_string()).collect();
                script.push_str(&format!("(assert_return {invoke} {})\n", vals.join(" ")));
            }
            Step::Trapped(t) => {
                script.push_str(&format!("(assert_trap {invoke} \"{}\")\n", t.message()));
            }
            Step::Failed(e) => script.push_str(&format!(";; {invoke}: {e}\n")),
        }
    }
    for (name, value) in &oracle.globals {
        if !matches!(value, exec::Value::Ref { .. }) {
            script.push_str(&format!("(assert_return (get {name:?}) {value})\n"));
        }
    }
    std::fs::create_dir_all(out_dir)?;
    let path = out_dir.join(format!("fuzz-{seed}-{index}.wast"));
    std::fs::write(&path, script)?;
    Ok(path)
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let mut continuations_failed = false;
    if (o.exceptions || o.ci) && !o.continuations {
        let (from, cases) = match o.single {
            Some(i) => (i, 1),
            None if o.ci => (0, 1_500),
            None => (o.from, o.cases),
        };
        if o.write {
            for i in from..from + cases {
                let p = exceptions::generate(o.seed, i);
                let (path, text) = match exceptions::wast(&p, o.seed, i, "written with --write") {
                    Some(w) => (o.out.join(format!("exn-{}-{i}.wast", o.seed)), w),
                    None => (
                        o.out.join(format!("exn-{}-{i}.txt", o.seed)),
                        exceptions::report(&p, o.seed, i, "written with --write"),
                    ),
                };
                match std::fs::write(&path, text) {
                    Ok(()) => eprintln!("case {i}: wrote {}", path.display()),
                    Err(e) => eprintln!("case {i}: could not write it: {e}"),
                }
            }
        }
        let (_, failed) = exceptions::run(o.seed, from, cases, o.threads, &o.out, o.ci);
        continuations_failed = failed > 0;
        if o.exceptions {
            std::process::exit(i32::from(continuations_failed));
        }
    }
    if o.continuations || o.ci {
        let (from, cases) = match o.single {
            Some(i) => (i, 1),
            None if o.ci => (0, 1_500),
            None => (o.from, o.cases),
        };
        if o.write {
            for i in from..from + cases {
                let p = continuations::generate(o.seed, i);
                let path = o.out.join(format!("cont-{}-{i}.wast", o.seed));
                let text = continuations::wast(&p, o.seed, i, "written with --write");
                match std::fs::write(&path, text) {
                    Ok(()) => eprintln!("case {i}: wrote {}", path.display()),
                    Err(e) => eprintln!("case {i}: could not write it: {e}"),
                }
            }
        }
        let (_, failed) = continuations::run(o.seed, from, cases, o.threads, &o.out, o.ci);
        continuations_failed |= failed > 0;
        if o.continuations {
            std::process::exit(i32::from(continuations_failed));
        }
    }
    let indices: Vec<u64> = match o.single {
        Some(i) => vec![i],
        None => (o.from..o.from + o.cases).collect(),
    };
    let next = AtomicU64::new(0);
    let passed = AtomicU64::new(0);
    let (calls, trapped, bytes) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let failed = Mutex::new(Vec::<(u64, String, Option<Vec<u8>>)>::new());
    let skipped = Mutex::new(std::collections::BTreeMap::<&'static str, u64>::new());
    let start = Instant::now();
    let total = indices.len() as u64;
    std::thread::scope(|s| {
        for _ in 0..o.threads.min(indices.len()).max(1) {
            // Generous stacks: wasm-smith, wasmi and weft's compiler recurse.
            let worker = std::thread::Builder::new().stack_size(256 << 20);
            worker
                .spawn_scoped(s, || {
                    let engines = Engines::new();
                    loop {
                        let k = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&index) = indices.get(k as usize) else {
                            break;
                        };
                        let (verdict, wasm) = run_case(&engines, o.seed, index);
                        match verdict {
                            Verdict::Passed(n, t) => {
                                passed.fetch_add(1, Ordering::Relaxed);
                                calls.fetch_add(n, Ordering::Relaxed);
                                trapped.fetch_add(t, Ordering::Relaxed);
                                bytes.fetch_add(
                                    wasm.as_ref().map_or(0, |w| w.len() as u64),
                                    Ordering::Relaxed,
                                );
                            }
                            Verdict::Skipped(why) => {
                                *skipped.lock().unwrap().entry(why).or_default() += 1
                            }
                            Verdict::Failed(why) => {
                                eprintln!("FAILED case {index} (seed {}): {why}", o.seed);
                                failed.lock().unwrap().push((index, why, wasm));
                            }
                        }
                        let done = k + 1;
                        if !o.ci && done.is_multiple_of(10_000) {
                            let secs = start.elapsed().as_secs_f64();
                            eprintln!("{done}/{total} cases, {:.0}/s", done as f64 / secs);
                        }
                    }
                })
                .expect("spawn a fuzzing thread");
        }
    });
    let failed = failed.into_inner().unwrap();
    let engines = Engines::new();
    if o.write {
        for &index in &indices {
            if let Some(wasm) = generate(o.seed, index) {
                let r = minimise_and_write(
                    &engines,
                    wasm,
                    o.seed,
                    index,
                    "written with --write",
                    &o.out,
                );
                match r {
                    Ok(p) => eprintln!("case {index}: wrote {}", p.display()),
                    Err(e) => eprintln!("case {index}: could not write it: {e:#}"),
                }
            }
        }
    }
    for (index, why, wasm) in &failed {
        if let Some(wasm) = wasm {
            match minimise_and_write(&engines, wasm.clone(), o.seed, *index, why, &o.out) {
                Ok(p) => eprintln!("case {index}: wrote {}", p.display()),
                Err(e) => eprintln!("case {index}: could not write a regression: {e:#}"),
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let skipped = skipped.into_inner().unwrap();
    let skipped_total: u64 = skipped.values().sum();
    println!(
        "{} passed, {} failed, {skipped_total} skipped ({} cases of seed {} in {secs:.1} s)",
        passed.load(Ordering::Relaxed),
        failed.len(),
        total,
        o.seed
    );
    for (why, n) in &skipped {
        println!("  skipped {n}: {why}");
    }
    let p = passed.load(Ordering::Relaxed).max(1);
    println!(
        "  passed cases: {} export calls compared ({} trapped), modules of {} bytes on average",
        calls.load(Ordering::Relaxed),
        trapped.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed) / p
    );
    if !failed.is_empty() || continuations_failed {
        std::process::exit(1);
    }
}
