//! weft against the wasmtime 50 crate, in one process, on the same wasm
//! modules, measured interleaved. See README.md for the method.
//!
//! ```text
//! weft-bench-inprocess [--rounds N] [--batch-ms MS] [--filter TEXT]
//!                      [--concurrent N] [--concurrent-runs K] [--no-concurrent]
//! ```
//!
//! Prints a Markdown table and, for scripts/bench-inprocess.sh, one
//! `RESULT` line per row (tab-separated: name, unit, weft, wasmtime, paired
//! ratio, weft p25, p75, wasmtime p25, p75).

mod cases;

use cases::{Case, ConcurrentResult};
use std::time::Duration;

/// Peak resident set size of this process, from /proc/self/status.
mod rss {
    fn status_kib(field: &str) -> Option<u64> {
        let s = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = s.lines().find(|l| l.starts_with(field))?;
        line[field.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    }

    /// Resets the peak (`VmHWM`) to the current RSS (writing 5 to
    /// /proc/self/clear_refs, Linux 4.0 and later) and returns the
    /// current RSS in KiB.
    pub fn reset_peak() -> u64 {
        std::fs::write("/proc/self/clear_refs", "5").expect("cannot reset the peak RSS");
        status_kib("VmRSS:").expect("no VmRSS in /proc/self/status")
    }

    /// Peak RSS (`VmHWM`) since the last reset, in KiB.
    pub fn peak_kib() -> u64 {
        status_kib("VmHWM:").expect("no VmHWM in /proc/self/status")
    }
}

/// A run queue for many futures on one thread: a task is polled when its
/// waker was called (every task once at the start).
mod executor {
    use std::collections::VecDeque;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Wake, Waker};

    struct TaskWaker {
        id: usize,
        queue: Arc<Mutex<VecDeque<usize>>>,
    }

    impl Wake for TaskWaker {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref()
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.queue.lock().unwrap().push_back(self.id);
        }
    }

    /// Runs every future to completion; returns their outputs and the
    /// largest number that were pending at the same time.
    pub fn run_all<'a>(futures: Vec<Pin<Box<dyn Future<Output = i32> + 'a>>>) -> (Vec<i32>, usize) {
        let n = futures.len();
        let queue = Arc::new(Mutex::new((0..n).collect::<VecDeque<_>>()));
        let wakers: Vec<Waker> = (0..n)
            .map(|id| {
                Waker::from(Arc::new(TaskWaker {
                    id,
                    queue: queue.clone(),
                }))
            })
            .collect();
        let mut futures: Vec<Option<_>> = futures.into_iter().map(Some).collect();
        let mut results = vec![0; n];
        let mut was_pending = vec![false; n];
        let (mut done, mut pending, mut max_pending) = (0, 0, 0);
        while done < n {
            let id = queue
                .lock()
                .unwrap()
                .pop_front()
                .expect("tasks left but none woken");
            let Some(f) = futures[id].as_mut() else {
                continue;
            };
            match f.as_mut().poll(&mut Context::from_waker(&wakers[id])) {
                Poll::Ready(v) => {
                    results[id] = v;
                    futures[id] = None;
                    done += 1;
                    if was_pending[id] {
                        pending -= 1;
                    }
                }
                Poll::Pending => {
                    if !was_pending[id] {
                        was_pending[id] = true;
                        pending += 1;
                        max_pending = max_pending.max(pending);
                    }
                }
            }
        }
        (results, max_pending)
    }
}

struct Options {
    rounds: usize,
    batch: Duration,
    filter: Option<String>,
    concurrent: usize,
    concurrent_runs: usize,
}

fn parse_args() -> Options {
    let mut o = Options {
        rounds: 31,
        batch: Duration::from_millis(10),
        filter: None,
        concurrent: 10_000,
        concurrent_runs: 5,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |what: &str| args.next().unwrap_or_else(|| panic!("{a} needs {what}"));
        match a.as_str() {
            "--rounds" => o.rounds = value("a number").parse().expect("--rounds N"),
            "--batch-ms" => {
                o.batch = Duration::from_millis(value("a number").parse().expect("--batch-ms MS"))
            }
            "--filter" => o.filter = Some(value("a text")),
            "--concurrent" => o.concurrent = value("a number").parse().expect("--concurrent N"),
            "--concurrent-runs" => {
                o.concurrent_runs = value("a number").parse().expect("--concurrent-runs K")
            }
            "--no-concurrent" => o.concurrent_runs = 0,
            "--child-concurrent" => {
                // Internal: one run of case d in this (fresh) process.
                let rt = value("weft or wasmtime");
                let n: usize = value("a number").parse().expect("a count");
                let r = match rt.as_str() {
                    "weft" => cases::weft_cases::concurrent(n),
                    "wasmtime" => cases::wasmtime_cases::concurrent(n),
                    other => panic!("unknown runtime {other}"),
                };
                println!(
                    "CONCURRENT {} {} {} {} {}",
                    r.setup.as_nanos(),
                    r.calls.as_nanos(),
                    r.drop.as_nanos(),
                    r.rss_total_kib,
                    r.rss_calls_kib
                );
                std::process::exit(0);
            }
            "-h" | "--help" => {
                println!(
                    "weft-bench-inprocess [--rounds N] [--batch-ms MS] [--filter TEXT] \
                     [--concurrent N] [--concurrent-runs K] [--no-concurrent]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other} (try --help)"),
        }
    }
    o
}

/// Iterations that make one batch of `run` take about `target`.
fn calibrate(run: &mut cases::Runner, target: Duration) -> u64 {
    let mut iters = 1u64;
    loop {
        let t = run(iters);
        if t >= target / 4 || iters >= 1 << 32 {
            let scale = target.as_secs_f64() / t.as_secs_f64().max(1e-9);
            return ((iters as f64 * scale).ceil() as u64).max(1);
        }
        iters = if t < target / 1000 {
            iters * 16
        } else {
            iters * 2
        };
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    percentile(&s, 0.5)
}

struct Row {
    name: String,
    unit: &'static str,
    weft: Vec<f64>,
    wasmtime: Vec<f64>,
}

impl Row {
    fn print_result(&self) {
        let mut w = self.weft.clone();
        let mut m = self.wasmtime.clone();
        w.sort_by(f64::total_cmp);
        m.sort_by(f64::total_cmp);
        let paired: Vec<f64> = self
            .weft
            .iter()
            .zip(&self.wasmtime)
            .map(|(a, b)| a / b)
            .collect();
        println!(
            "RESULT\t{}\t{}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}",
            self.name,
            self.unit,
            percentile(&w, 0.5),
            percentile(&m, 0.5),
            median(&paired),
            percentile(&w, 0.25),
            percentile(&w, 0.75),
            percentile(&m, 0.25),
            percentile(&m, 0.75),
        );
    }
}

/// Runs both runtimes' version of one case, interleaved: after a
/// calibration (which warms up both), `rounds` rounds each measure one
/// batch of each, the order alternating between rounds.
fn measure(o: &Options, mut weft: Case, mut wasmtime: Case) -> Row {
    assert_eq!(weft.name, wasmtime.name);
    let wi = calibrate(&mut weft.run, o.batch);
    let mi = calibrate(&mut wasmtime.run, o.batch);
    (weft.run)(wi);
    (wasmtime.run)(mi);
    let scale = if weft.micros { 1e-3 } else { 1.0 };
    let per_op =
        |t: Duration, iters: u64, ops: u64| t.as_nanos() as f64 / (iters * ops) as f64 * scale;
    let (mut wv, mut mv) = (Vec::new(), Vec::new());
    for round in 0..o.rounds {
        if round % 2 == 0 {
            wv.push(per_op((weft.run)(wi), wi, weft.ops_per_iter));
            mv.push(per_op((wasmtime.run)(mi), mi, wasmtime.ops_per_iter));
        } else {
            mv.push(per_op((wasmtime.run)(mi), mi, wasmtime.ops_per_iter));
            wv.push(per_op((weft.run)(wi), wi, weft.ops_per_iter));
        }
    }
    Row {
        name: weft.name.to_string(),
        unit: if weft.micros { "us" } else { "ns" },
        weft: wv,
        wasmtime: mv,
    }
}

fn run_child(rt: &str, n: usize) -> ConcurrentResult {
    let exe = std::env::current_exe().expect("own executable");
    let out = std::process::Command::new(exe)
        .args(["--child-concurrent", rt, &n.to_string()])
        .output()
        .expect("cannot start the child process");
    assert!(
        out.status.success(),
        "child ({rt}) failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("CONCURRENT "))
        .expect("child printed no result");
    let v: Vec<u64> = line[11..].split(' ').map(|x| x.parse().unwrap()).collect();
    ConcurrentResult {
        setup: Duration::from_nanos(v[0]),
        calls: Duration::from_nanos(v[1]),
        drop: Duration::from_nanos(v[2]),
        rss_total_kib: v[3],
        rss_calls_kib: v[4],
    }
}

/// Case d, each run in a fresh child process (so that one runtime's
/// freed memory cannot lower the other's RSS), runtimes alternating.
fn concurrent_rows(o: &Options) -> Vec<Row> {
    let (mut w, mut m) = (Vec::new(), Vec::new());
    for run in 0..o.concurrent_runs {
        if run % 2 == 0 {
            w.push(run_child("weft", o.concurrent));
            m.push(run_child("wasmtime", o.concurrent));
        } else {
            m.push(run_child("wasmtime", o.concurrent));
            w.push(run_child("weft", o.concurrent));
        }
    }
    let n = o.concurrent;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mib = |k: u64| k as f64 / 1024.0;
    let row = |name: String, unit, f: &dyn Fn(&ConcurrentResult) -> f64| Row {
        name,
        unit,
        weft: w.iter().map(f).collect(),
        wasmtime: m.iter().map(f).collect(),
    };
    vec![
        row(
            format!("d. {n} concurrent call_async, pending once: calls (ms)"),
            "ms",
            &|r| ms(r.calls),
        ),
        row(
            format!("d. {n} stores + instantiate_async (ms)"),
            "ms",
            &|r| ms(r.setup),
        ),
        row(format!("d. {n}: drop of the stores (ms)"), "ms", &|r| {
            ms(r.drop)
        }),
        row(format!("d. {n}: calls + drop (ms)"), "ms", &|r| {
            ms(r.calls + r.drop)
        }),
        row(
            format!("d. {n}: stores + calls + drop, total (ms)"),
            "ms",
            &|r| ms(r.setup + r.calls + r.drop),
        ),
        row(
            format!("d. {n}: peak RSS growth, stores + calls (MiB)"),
            "MiB",
            &|r| mib(r.rss_total_kib),
        ),
        row(
            format!("d. {n}: peak RSS growth during the calls (MiB)"),
            "MiB",
            &|r| mib(r.rss_calls_kib),
        ),
    ]
}

fn main() {
    let o = parse_args();
    let matches = |name: &str| o.filter.as_deref().is_none_or(|f| name.contains(f));
    let mut rows = Vec::new();
    let pairs = cases::weft_cases::cases()
        .into_iter()
        .zip(cases::wasmtime_cases::cases());
    for (w, m) in pairs {
        if matches(w.name) {
            eprintln!("measuring {}", w.name);
            rows.push(measure(&o, w, m));
        }
    }
    if o.concurrent_runs > 0 && matches("d. concurrent") {
        eprintln!(
            "measuring d. ({} runs of each in child processes)",
            o.concurrent_runs
        );
        rows.extend(concurrent_rows(&o));
    }
    println!("| case | weft | wasmtime | weft/wasmtime |");
    println!("|---|---:|---:|---:|");
    for r in &rows {
        let (w, m) = (median(&r.weft), median(&r.wasmtime));
        let prec = |x: f64| {
            if x >= 100.0 {
                1
            } else if x >= 10.0 {
                2
            } else {
                3
            }
        };
        println!(
            "| {} | {:.*} | {:.*} | {:.2} |",
            r.name,
            prec(w),
            w,
            prec(m),
            m,
            w / m
        );
    }
    for r in &rows {
        r.print_result();
    }
}
