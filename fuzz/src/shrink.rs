//! Greedy shrinking of generated programs, shared by the model-checked
//! modes (`--exceptions`, `--continuations`).

/// Shrinks `p` while it still fails: takes the first of `candidates(p)`
/// (each a smaller variant) for which `fails` holds, and starts again from
/// it, until no candidate fails. A panic while checking a candidate counts
/// as a failure.
pub fn greedy<P>(mut p: P, candidates: impl Fn(&P) -> Vec<P>, fails: impl Fn(&P) -> bool) -> P {
    let fails = |q: &P| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fails(q))).unwrap_or(true)
    };
    'outer: loop {
        for q in candidates(&p) {
            if fails(&q) {
                p = q;
                continue 'outer;
            }
        }
        return p;
    }
}
