//! Random programs that use continuations (the stack-switching proposal),
//! run in weft and checked against an independent model.
//!
//! ```text
//! case i of seed S: SplitMix -> Program (abstract: bodies of ops, roots,
//!                   a scheduling policy, a one-shot probe, sub's tags)
//!   Program --model--> per call: log, result or trap   (a Rust interpreter
//!                                                  of the ops, never of wasm)
//!   Program --emit--> wat with host imports h.log, h.reenter --weft-->
//!       main, drain, drain, main in one store             == model ?
//!       main's scheduler in Rust over ContRef::resume      == model ?
//!   Program --emit--> wat, log folded into an in-module hash --weft-->
//!       main, drain, drain: results and hash              == model ?
//!   any difference: shrink the Program, write tests/wast/cont-S-i.wast
//! ```
//!
//! The family (fuzz/README.md has the full list). A *body* (`(param i64
//! i64)`, started through `cont.new` and one or two `cont.bind`s) runs a
//! straight line of ops: log a value through the host; suspend with a
//! payload on one of six tags (one imported from a peer instance, one with
//! a result that the handler binds); trap; suspend with a tag nobody
//! handles; return early; run a generator loop; *spawn* a higher-numbered
//! body under handlers for a random subset of the local tags (the others
//! pass through to outer handlers); run a *ring* of two coroutines that
//! `switch` between each other; *re-enter* wasm through the host. `main`
//! is a scheduler over a table of contrefs (FIFO or LIFO) with a one-shot
//! probe (a kept copy resumed later: null, consumed or live, which the
//! model tracks by identity); `drain` continues it after a trap.

use crate::SplitMix;
use std::collections::VecDeque;
use std::fmt::Write as _;

// ---- the abstract program ---------------------------------------------------

/// Tag ids: 0 `$yi (param i32)`, 1 `$yl (param i64)`, 2 `$yd (param f64)`,
/// 3 `$yp (param i32 i64)`.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    I32(i32),
    I64(i64),
    F64(u64),
    Pair(i32, i64),
    /// Suspended by the function `y` of the peer instance registered as
    /// `p`, with its tag `t`, which the main module imports as `$yt`
    /// (tag 4: handled only by the scheduler and by `sub`).
    Peer(i32),
    /// `$yr (param i32) (result i64)`, handled only by the scheduler and
    /// `sub`, which bind the answer (`3v + iteration`, `5v + count`)
    /// to the continuation; the body logs what it receives.
    Req(i32),
}

impl Payload {
    fn tag(&self) -> usize {
        match self {
            Payload::I32(_) => 0,
            Payload::I64(_) => 1,
            Payload::F64(_) => 2,
            Payload::Pair(..) => 3,
            Payload::Peer(_) => 4,
            Payload::Req(_) => 5,
        }
    }
    /// The values a handler logs for it, in order.
    fn logged(&self) -> Vec<i64> {
        match *self {
            Payload::I32(v) | Payload::Peer(v) | Payload::Req(v) => vec![i64::from(v)],
            Payload::I64(v) => vec![v],
            Payload::F64(b) => vec![b as i64],
            Payload::Pair(a, b) => vec![i64::from(a), b],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    DivideByZero,
    Consumed,
    NullContinuation,
    UnhandledTag,
    StackOverflow,
}

impl TrapKind {
    fn message(self) -> &'static str {
        match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::DivideByZero => "integer divide by zero",
            TrapKind::Consumed => "continuation already consumed",
            TrapKind::NullContinuation => "null continuation reference",
            TrapKind::UnhandledTag => "unhandled tag",
            TrapKind::StackOverflow => "call stack exhausted",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Log(i64),
    Yield(Payload),
    Trap(TrapKind),
    /// `suspend $never`: no handler anywhere.
    Unhandled,
    Return,
    /// Drive body `body` (bound to `args`, in one or two `cont.bind`s)
    /// under handlers for the tags in `set` (bit i = tag i); `level` names
    /// the handler in the log.
    Spawn {
        body: usize,
        args: (i64, i64),
        two_binds: bool,
        set: u8,
        level: u32,
    },
    /// Two coroutines switching between each other; the first runs first.
    Ring {
        a: Vec<Op>,
        b: Vec<Op>,
        id: u32,
    },
    /// Only in ring coroutines: `switch` to the partner.
    Switch,
    /// The host calls the export `sub(body)`.
    Reenter(usize),
    /// A generator loop inside the body: `$gen(n, base)` yields `base + 7i`
    /// (tag `$yl`) for i < n; the loop takes `take` of them (abandoning
    /// the generator suspended if `take < n`) and logs their sum.
    Gen {
        n: u32,
        take: u32,
        base: i64,
    },
    /// `cont.bind` twice of one continuation: traps (consumed).
    BindTwice,
    /// Resumes a continuation of `$nop` twice: traps (consumed).
    ResumeTwice,
    /// `resume` of a null contref: traps.
    ResumeNull,
    /// Recurses `depth` wasm frames, then suspends `$yl` with `v` (the
    /// continuation captures the frames), then returns through them.
    Deep {
        depth: u32,
        v: i64,
    },
    /// Calls `y` of a second peer instance (`q`), whose tag nobody
    /// imports: the suspension is unhandled even though every handler
    /// has a tag of that type from the first peer instance.
    ForeignYield(i32),
    /// The model's own: a body's prologue logging an argument.
    LogCode(i64, i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Root {
    body: usize,
    args: (i64, i64),
    two_binds: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    bodies: Vec<Vec<Op>>,
    roots: Vec<Root>,
    lifo: bool,
    /// Iteration whose returned continuation is copied (0: never).
    keep_at: i64,
    /// Iteration that resumes the copy instead of the queue (-1: never).
    resume_copy_at: i64,
    /// The tags `sub` handles (bit i = tag i; 63 = all six). A suspension
    /// with another tag inside `sub` must not cross the host frame of
    /// `reenter`: unhandled tag (the in-module variant, where `reenter`
    /// calls `sub` directly, is then not compared).
    sub_set: u8,
}

/// A log: (code, value) per host call, in order.
type Log = Vec<(i64, i64)>;

// Log codes.
const LOG_OP: i64 = 1;
const RECV: i64 = 2;
const ARGS: i64 = 100;
const HANDLED: i64 = 10_000; // + 10 * level + tag
const SPAWN_DONE: i64 = 20_000; // + level
const SCHED: i64 = 30_000; // + tag
const SCHED_DONE: i64 = 30_010;
const REENTER: i64 = 40_000; // + body
const REENTER_DONE: i64 = 40_100; // + body
const RING_DONE: i64 = 50_000; // + ring id
const GEN_SUM: i64 = 60_000;
/// `sub(j)` drives body `j` with these arguments.
fn sub_args(j: usize) -> (i64, i64) {
    (j as i64 * 11, 5)
}

// ---- generation -------------------------------------------------------------

struct Gen {
    rng: SplitMix,
    next_level: u32,
    next_ring: u32,
}

impl Gen {
    fn below(&mut self, n: u64) -> u64 {
        self.rng.next_u64() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn value(&mut self) -> i64 {
        match self.below(4) {
            0 => self.below(100) as i64,
            1 => -(self.below(1000) as i64),
            2 => [i64::MIN, i64::MAX, -1, 0, 1 << 32][self.below(5) as usize],
            _ => self.rng.next_u64() as i64,
        }
    }
    fn payload(&mut self) -> Payload {
        match self.below(6) {
            0 => Payload::I32(self.value() as i32),
            1 => Payload::I64(self.value()),
            2 => Payload::F64(match self.below(4) {
                // -0.0, infinity, a NaN with payload bits, anything.
                0 => 0x8000_0000_0000_0000,
                1 => 0x7ff0_0000_0000_0000,
                2 => 0x7ff4_0000_0000_0001,
                _ => (self.value() as f64 * 0.5).to_bits(),
            }),
            3 => Payload::Pair(self.value() as i32, self.value()),
            4 => Payload::Peer(self.value() as i32),
            _ => Payload::Req(self.value() as i32),
        }
    }
    fn trap(&mut self) -> Op {
        Op::Trap(match self.below(10) {
            0..=4 => TrapKind::Unreachable,
            5..=8 => TrapKind::DivideByZero,
            _ => TrapKind::StackOverflow,
        })
    }
    fn ring_ops(&mut self, owner: usize, nbodies: usize) -> Vec<Op> {
        let n = 1 + self.below(6);
        (0..n)
            .map(|_| match self.below(100) {
                0..=34 => Op::Switch,
                35..=59 => Op::Log(self.value()),
                60..=84 => Op::Yield(self.payload()),
                85..=89 if owner + 1 < nbodies => {
                    Op::Reenter(owner + 1 + self.below((nbodies - owner - 1) as u64) as usize)
                }
                90..=92 if self.chance(35) => self.trap(),
                93..=94 => Op::Return,
                _ => Op::Switch,
            })
            .collect()
    }
    fn body(&mut self, i: usize, nbodies: usize) -> Vec<Op> {
        let n = 1 + self.below(7);
        let mut refs = 0;
        let mut ops = Vec::new();
        for _ in 0..n {
            let higher = i + 1 < nbodies && refs < 2;
            let pick_higher = |g: &mut Gen| i + 1 + g.below((nbodies - i - 1) as u64) as usize;
            let op = match self.below(100) {
                0..=24 => Op::Log(self.value()),
                25..=56 => Op::Yield(self.payload()),
                57..=59 => Op::Deep {
                    depth: self.below(100) as u32,
                    v: self.value(),
                },
                60..=73 if higher => {
                    refs += 1;
                    let level = self.next_level;
                    self.next_level += 1;
                    Op::Spawn {
                        body: pick_higher(self),
                        args: (self.value(), self.value()),
                        two_binds: self.chance(50),
                        set: self.below(16) as u8,
                        level,
                    }
                }
                74..=81 if refs < 2 => {
                    refs += 1;
                    let id = self.next_ring;
                    self.next_ring += 1;
                    Op::Ring {
                        a: self.ring_ops(i, nbodies),
                        b: self.ring_ops(i, nbodies),
                        id,
                    }
                }
                82..=86 if higher => {
                    refs += 1;
                    Op::Reenter(pick_higher(self))
                }
                87..=89 if self.chance(35) => self.trap(),
                90 if self.chance(50) => Op::Unhandled,
                91..=93 => Op::Return,
                94..=96 => {
                    let n = self.below(60) as u32;
                    let take = if self.chance(70) {
                        n + self.below(2) as u32
                    } else {
                        self.below(u64::from(n) + 1) as u32
                    };
                    Op::Gen {
                        n,
                        take,
                        base: self.value(),
                    }
                }
                97 if self.chance(30) => {
                    let v = self.value() as i32;
                    [
                        Op::BindTwice,
                        Op::ResumeTwice,
                        Op::ResumeNull,
                        Op::ForeignYield(v),
                    ][self.below(4) as usize]
                        .clone()
                }
                _ => Op::Log(self.value()),
            };
            ops.push(op);
        }
        ops
    }
}

pub fn generate(seed: u64, index: u64) -> Program {
    let mut g = Gen {
        rng: SplitMix(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ index.wrapping_mul(0x2545_f491)),
        next_level: 1,
        next_ring: 0,
    };
    let nbodies = 1 + g.below(6) as usize;
    let bodies = (0..nbodies).map(|i| g.body(i, nbodies)).collect();
    let nroots = 1 + g.below(5);
    let roots = (0..nroots)
        .map(|_| Root {
            body: g.below(nbodies as u64) as usize,
            args: (g.value(), g.value()),
            two_binds: g.chance(50),
        })
        .collect();
    let lifo = g.chance(40);
    let (keep_at, resume_copy_at) = if g.chance(40) {
        let a = 1 + g.below(6) as i64;
        (a, a + 1 + g.below(6) as i64)
    } else {
        (0, -1)
    };
    let sub_set = if g.chance(50) { 63 } else { g.below(64) as u8 };
    Program {
        bodies,
        roots,
        lifo,
        keep_at,
        resume_copy_at,
        sub_set,
    }
}

// ---- the model ----------------------------------------------------------------

/// What the program is expected to do: `main`'s result or trap, and the
/// host log (code, value) in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// For each of [`CALLS`]: the result or trap, and the host log.
    pub calls: Vec<(Result<i64, TrapKind>, Log)>,
    /// A suspension inside `sub` had no handler there (see
    /// [`Program::sub_set`]).
    pub crossed: bool,
}

/// How an activation was resumed by its parent.
#[derive(Debug, Clone)]
enum Boundary {
    /// By the scheduler (all tags) or `sub` (`sub_set`).
    Driver { set: u8 },
    /// By a `Spawn` of the parent: `set` handled, `count` events so far.
    Spawn { set: u8, level: u32, count: i64 },
    /// By a `Ring` of the parent: only `switch`.
    Ring,
}

#[derive(Debug, Clone)]
struct Act {
    ops: Vec<Op>,
    pc: usize,
    boundary: Boundary,
    /// While the current op is a `Ring`: the coroutine not running.
    partner: Option<Box<Act>>,
    /// Suspended in `$yr`: the answer it logs when resumed.
    recv: Option<i64>,
}

impl Act {
    fn new(ops: Vec<Op>, boundary: Boundary) -> Act {
        Act {
            ops,
            pc: 0,
            boundary,
            partner: None,
            recv: None,
        }
    }
}

enum Event {
    Returned,
    Suspended(Payload),
}

struct Model<'p> {
    prog: &'p Program,
    log: Vec<(i64, i64)>,
    sched: Sched,
    /// A suspension inside `sub` found no handler there.
    crossed: bool,
}

impl Model<'_> {
    /// A fresh activation of `body`: its prologue logs the arguments.
    fn start(&self, body: usize, args: (i64, i64), boundary: Boundary) -> Act {
        let code = ARGS + body as i64;
        let mut ops = vec![Op::LogCode(code, args.0), Op::LogCode(code, args.1)];
        ops.extend(self.prog.bodies[body].iter().cloned());
        Act::new(ops, boundary)
    }

    /// Runs the stack until it returns or suspends to its driver.
    fn run(&mut self, stack: &mut Vec<Act>) -> Result<Event, TrapKind> {
        if let Some(v) = stack.last_mut().and_then(|a| a.recv.take()) {
            self.log.push((RECV, v));
        }
        loop {
            let top = stack.len() - 1;
            let act = &mut stack[top];
            let Some(op) = act.ops.get(act.pc).cloned() else {
                // The body ends.
                let done = stack.pop().unwrap();
                let Some(parent) = stack.last_mut() else {
                    return Ok(Event::Returned);
                };
                match done.boundary {
                    Boundary::Spawn { level, count, .. } => {
                        self.log.push((SPAWN_DONE + i64::from(level), count))
                    }
                    Boundary::Ring => {
                        let Op::Ring { id, .. } = &parent.ops[parent.pc] else {
                            unreachable!()
                        };
                        self.log.push((RING_DONE + i64::from(*id), 0));
                        parent.partner = None;
                    }
                    Boundary::Driver { .. } => unreachable!(),
                }
                parent.pc += 1;
                continue;
            };
            act.pc += 1;
            // To the model, the frames in between make no difference.
            let op = match op {
                Op::Deep { v, .. } => Op::Yield(Payload::I64(v)),
                op => op,
            };
            match op {
                Op::Log(v) => self.log.push((LOG_OP, v)),
                Op::LogCode(c, v) => self.log.push((c, v)),
                Op::Yield(p) => {
                    // The innermost boundary that handles the tag.
                    let tag = p.tag();
                    let handler = (1..stack.len()).rev().find(|&b| {
                        matches!(stack[b].boundary, Boundary::Spawn { set, .. } if set & (1 << tag) != 0)
                    });
                    match handler {
                        Some(b) => {
                            let Boundary::Spawn { level, count, .. } = &mut stack[b].boundary
                            else {
                                unreachable!()
                            };
                            *count += 1;
                            let code = HANDLED + 10 * i64::from(*level) + tag as i64;
                            for v in p.logged() {
                                self.log.push((code, v));
                            }
                        }
                        None => match stack[0].boundary {
                            Boundary::Driver { set } if set & (1 << tag) == 0 => {
                                self.crossed = true;
                                return Err(TrapKind::UnhandledTag);
                            }
                            _ => return Ok(Event::Suspended(p)),
                        },
                    }
                }
                Op::Trap(k) => return Err(k),
                Op::BindTwice | Op::ResumeTwice => return Err(TrapKind::Consumed),
                Op::ResumeNull => return Err(TrapKind::NullContinuation),
                Op::ForeignYield(_) => return Err(TrapKind::UnhandledTag),
                Op::Deep { .. } => unreachable!("read as a Yield"),
                Op::Gen { n, take, base } => {
                    let sum = (0..i64::from(take.min(n)))
                        .fold(0i64, |s, i| s.wrapping_add(base.wrapping_add(7 * i)));
                    self.log.push((GEN_SUM, sum));
                }
                Op::Unhandled => return Err(TrapKind::UnhandledTag),
                Op::Return => act.pc = act.ops.len(),
                Op::Spawn {
                    body,
                    args,
                    set,
                    level,
                    ..
                } => {
                    act.pc -= 1; // the op completes when the child returns
                    let child = self.start(
                        body,
                        args,
                        Boundary::Spawn {
                            set,
                            level,
                            count: 0,
                        },
                    );
                    stack.push(child);
                }
                Op::Ring { a, b, .. } => {
                    act.pc -= 1;
                    act.partner = Some(Box::new(Act::new(b, Boundary::Ring)));
                    stack.push(Act::new(a, Boundary::Ring));
                }
                Op::Switch => {
                    let me = stack.pop().unwrap();
                    let parent = stack.last_mut().unwrap();
                    let other = parent.partner.replace(Box::new(me)).unwrap();
                    stack.push(*other);
                }
                Op::Reenter(j) => {
                    self.log.push((REENTER + j as i64, 0));
                    let count = self.sub(j)?;
                    self.log.push((REENTER_DONE + j as i64, count));
                }
            }
        }
    }

    /// The export `sub(j)`: drives body `j`, handling every tag.
    fn sub(&mut self, j: usize) -> Result<i64, TrapKind> {
        let mut stack = vec![self.start(
            j,
            sub_args(j),
            Boundary::Driver {
                set: self.prog.sub_set,
            },
        )];
        let mut count = 0;
        loop {
            match self.run(&mut stack)? {
                Event::Returned => return Ok(count),
                Event::Suspended(p) => {
                    count += 1;
                    for v in p.logged() {
                        self.log.push((HANDLED + p.tag() as i64, v));
                    }
                    if let Payload::Req(v) = p {
                        stack.last_mut().unwrap().recv =
                            Some(i64::from(v).wrapping_mul(5).wrapping_add(count));
                    }
                }
            }
        }
    }

    /// The export `main`: the roots queued, then the scheduler.
    fn main(&mut self) -> Result<i64, TrapKind> {
        self.sched = Sched::default();
        for r in &self.prog.roots {
            let a = self.start(r.body, r.args, Boundary::Driver { set: 63 });
            self.sched.conts.push(Some(vec![a]));
            self.sched.queue.push_back(self.sched.conts.len() - 1);
        }
        self.schedule()
    }

    /// The export `drain`: the scheduler again, from where the last call
    /// left it (after a trap, the queue's other continuations are intact).
    fn schedule(&mut self) -> Result<i64, TrapKind> {
        loop {
            let s = &mut self.sched;
            let k = if s.iter == self.prog.resume_copy_at {
                s.kept
            } else {
                let next = if self.prog.lifo {
                    s.queue.pop_back()
                } else {
                    s.queue.pop_front()
                };
                match next {
                    Some(k) => Some(k),
                    None => return Ok(s.iter),
                }
            };
            s.iter += 1;
            let k = k.ok_or(TrapKind::NullContinuation)?;
            let mut stack = s.conts[k].take().ok_or(TrapKind::Consumed)?;
            let iter = s.iter;
            match self.run(&mut stack)? {
                Event::Returned => self.log.push((SCHED_DONE, iter)),
                Event::Suspended(p) => {
                    for v in p.logged() {
                        self.log.push((SCHED + p.tag() as i64, v));
                    }
                    if let Payload::Req(v) = p {
                        stack.last_mut().unwrap().recv =
                            Some(i64::from(v).wrapping_mul(3).wrapping_add(iter));
                    }
                    let s = &mut self.sched;
                    s.conts.push(Some(stack));
                    let id = s.conts.len() - 1;
                    if iter == self.prog.keep_at {
                        s.kept = Some(id);
                    }
                    s.queue.push_back(id);
                }
            }
        }
    }
}

/// The scheduler's state, kept between `main` and `drain`.
#[derive(Default)]
struct Sched {
    /// Continuations by identity: `None` once consumed.
    conts: Vec<Option<Vec<Act>>>,
    queue: VecDeque<usize>,
    kept: Option<usize>,
    iter: i64,
}

/// The calls made, in order, in one store: `main`, then `drain` twice.
pub const CALLS: [&str; 3] = ["main", "drain", "drain"];

pub fn model(prog: &Program) -> Expected {
    let mut m = Model {
        prog,
        log: Vec::new(),
        sched: Sched::default(),
        crossed: false,
    };
    let mut calls = Vec::new();
    for name in CALLS {
        let result = if name == "main" {
            m.main()
        } else {
            m.schedule()
        };
        calls.push((result, std::mem::take(&mut m.log)));
    }
    Expected {
        calls,
        crossed: m.crossed,
    }
}

// ---- wasm text ----------------------------------------------------------------

/// The peer module, instantiated twice (`p` and `q`).
pub const PEER: &str = "(module\n  (tag $t (export \"t\") (param i32))\n  (func (export \"y\") (param i32) (suspend $t (local.get 0))))\n";

/// The in-module log's hash (FNV-1a style over code and value).
pub fn hash_log(log: &[(i64, i64)]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &(c, v) in log {
        h = (h ^ c as u64).wrapping_mul(0x0000_0100_0000_01b3);
        h = (h ^ v as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

fn mkcont(body: usize, args: (i64, i64), two_binds: bool) -> String {
    let new = format!("(cont.new $c2 (ref.func $b{body}))");
    if two_binds {
        format!(
            "(cont.bind $c1 $ct (i64.const {}) (cont.bind $c2 $c1 (i64.const {}) {new}))",
            args.1, args.0
        )
    } else {
        format!(
            "(cont.bind $c2 $ct (i64.const {}) (i64.const {}) {new})",
            args.0, args.1
        )
    }
}

/// The handler blocks of a loop that resumes local `$k` with the tags in
/// `set` and, for each handled tag, logs its payload with code
/// `code_local + tag`, then runs `after` (with the new continuation in
/// `$k`) and branches to `$l`. Falls through when `$k` returns.
/// `answer`: for tag 5 (`$yr`, which waits for an i64), the value the
/// continuation is bound to (payload in `$v`) before `after`.
fn handler_loop(out: &mut String, set: u8, code: &str, after: &str, returned: &str, answer: &str) {
    let tys = ["i32", "i64", "f64", "i32 i64", "i32", "i32"];
    let tags = ["$yi", "$yl", "$yd", "$yp", "$yt", "$yr"];
    out.push_str("    (block $exit\n    (loop $l\n");
    for t in (0..6).rev() {
        let k = if t == 5 { "$c1" } else { "$ct" };
        let _ = writeln!(out, "      block $h{t} (result {} (ref {k}))", tys[t]);
    }
    out.push_str("      local.get $k\n      resume $ct");
    for (t, tag) in tags.iter().enumerate() {
        if set & (1 << t) != 0 {
            let _ = write!(out, " (on {tag} $h{t})");
        }
    }
    let _ = writeln!(out, "\n      {returned}\n      br $exit");
    let logs = [
        "local.set $k i64.extend_i32_s local.set $v (call $log (i64.add {C} (i64.const 0)) (local.get $v))",
        "local.set $k local.set $v (call $log (i64.add {C} (i64.const 1)) (local.get $v))",
        "local.set $k i64.reinterpret_f64 local.set $v (call $log (i64.add {C} (i64.const 2)) (local.get $v))",
        "local.set $k local.set $v i64.extend_i32_s local.set $w (call $log (i64.add {C} (i64.const 3)) (local.get $w)) (call $log (i64.add {C} (i64.const 3)) (local.get $v))",
        "local.set $k i64.extend_i32_s local.set $v (call $log (i64.add {C} (i64.const 4)) (local.get $v))",
        "local.set $k1 i64.extend_i32_s local.set $v (call $log (i64.add {C} (i64.const 5)) (local.get $v)) (local.set $k (cont.bind $c1 $ct {A} (local.get $k1)))",
    ];
    for (t, l) in logs.iter().enumerate() {
        let _ = writeln!(
            out,
            "      end ;; $h{t}\n      {}\n      {after}\n      br $l",
            l.replace("{C}", code).replace("{A}", answer)
        );
    }
    out.push_str("    ))\n");
}

fn emit_ops(out: &mut String, ops: &[Op], rings: &mut Vec<(u32, Vec<Op>, Vec<Op>)>) {
    for op in ops {
        match op {
            Op::Log(v) => {
                let _ = writeln!(out, "    (call $log (i64.const {LOG_OP}) (i64.const {v}))");
            }
            Op::Yield(p) => {
                let _ = match *p {
                    Payload::I32(v) => writeln!(out, "    (suspend $yi (i32.const {v}))"),
                    Payload::I64(v) => writeln!(out, "    (suspend $yl (i64.const {v}))"),
                    Payload::F64(b) => writeln!(
                        out,
                        "    (suspend $yd (f64.reinterpret_i64 (i64.const {})))",
                        b as i64
                    ),
                    Payload::Pair(a, b) => {
                        writeln!(out, "    (suspend $yp (i32.const {a}) (i64.const {b}))")
                    }
                    Payload::Peer(v) => writeln!(out, "    (call $py (i32.const {v}))"),
                    Payload::Req(v) => writeln!(
                        out,
                        "    (call $log (i64.const {RECV}) (suspend $yr (i32.const {v})))"
                    ),
                };
            }
            Op::Trap(TrapKind::Unreachable) => out.push_str("    unreachable\n"),
            Op::Trap(TrapKind::StackOverflow) => out.push_str("    (call $rec)\n"),
            Op::Trap(_) => {
                out.push_str("    (drop (i32.div_u (i32.const 1) (global.get $zero)))\n")
            }
            Op::Unhandled => out.push_str("    (suspend $never)\n"),
            Op::Return => out.push_str("    (return)\n"),
            Op::Spawn {
                body,
                args,
                two_binds,
                set,
                level,
            } => {
                let _ = writeln!(
                    out,
                    "    (call $log (i64.const {}) (call $drive{set} {} (i64.const {level})))",
                    SPAWN_DONE + i64::from(*level),
                    mkcont(*body, *args, *two_binds)
                );
            }
            Op::Ring { a, b, id } => {
                let _ = writeln!(
                    out,
                    "    (resume $cs (on $swap switch) (cont.new $cs (ref.func $r{id}b)) (cont.new $cs (ref.func $r{id}a)))\n    (call $log (i64.const {}) (i64.const 0))",
                    RING_DONE + i64::from(*id)
                );
                rings.push((*id, a.clone(), b.clone()));
            }
            Op::Switch => out.push_str("    (local.set $next (switch $cs $swap (local.get $next)))\n"),
            Op::Reenter(j) => {
                let _ = writeln!(out, "    (call $reenter (i32.const {j}))");
            }
            Op::LogCode(c, v) => {
                let _ = writeln!(out, "    (call $log (i64.const {c}) (i64.const {v}))");
            }
            Op::Gen { n, take, base } => {
                let _ = writeln!(
                    out,
                    "    (call $log (i64.const {GEN_SUM}) (call $take (cont.bind $c2 $ct (i64.const {n}) (i64.const {base}) (cont.new $c2 (ref.func $gen))) (i32.const {take})))"
                );
            }
            Op::BindTwice => out.push_str(
                "    (local.set $k2 (cont.new $c2 (ref.func $gen)))\n    (drop (cont.bind $c2 $c1 (i64.const 1) (local.get $k2)))\n    (drop (cont.bind $c2 $ct (i64.const 1) (i64.const 2) (local.get $k2)))\n",
            ),
            Op::ResumeTwice => out.push_str(
                "    (local.set $k0 (cont.new $ct (ref.func $nop)))\n    (resume $ct (local.get $k0))\n    (resume $ct (local.get $k0))\n",
            ),
            Op::ResumeNull => out.push_str("    (resume $ct (ref.null $ct))\n"),
            Op::ForeignYield(v) => {
                let _ = writeln!(out, "    (call $qy (i32.const {v}))");
            }
            Op::Deep { depth, v } => {
                let _ = writeln!(out, "    (call $deep (i32.const {depth}) (i64.const {v}))");
            }
        }
    }
}

/// The module. `in_module_log`: `log` folds into the global `$hash`
/// (exported by `hash`) and `reenter` calls `sub` directly, so the text is
/// a self-contained `.wast` module; otherwise both are host imports.
pub fn emit(prog: &Program, in_module_log: bool) -> String {
    let mut o = String::new();
    o.push_str(
        "(module\n  (type $f0 (func))\n  (type $ct (cont $f0))\n  (type $f1 (func (param i64)))\n  (type $c1 (cont $f1))\n  (type $f2 (func (param i64 i64)))\n  (type $c2 (cont $f2))\n  (rec (type $fs (func (param (ref null $cs)))) (type $cs (cont $fs)))\n",
    );
    o.push_str(
        "  (import \"p\" \"y\" (func $py (param i32)))\n  (import \"p\" \"t\" (tag $yt (param i32)))\n  (import \"q\" \"y\" (func $qy (param i32)))\n",
    );
    if in_module_log {
        o.push_str(
            "  (global $hash (mut i64) (i64.const 0))\n  (func $log (param i64 i64)\n    (global.set $hash (i64.mul (i64.xor (global.get $hash) (local.get 0)) (i64.const 1099511628211)))\n    (global.set $hash (i64.mul (i64.xor (global.get $hash) (local.get 1)) (i64.const 1099511628211))))\n  (func (export \"hash\") (result i64) (global.get $hash))\n  (func $reenter (param $j i32)\n    (call $log (i64.add (i64.const 40000) (i64.extend_i32_u (local.get $j))) (i64.const 0))\n    (call $log (i64.add (i64.const 40100) (i64.extend_i32_u (local.get $j))) (call $sub (local.get $j))))\n",
        );
    } else {
        o.push_str(
            "  (import \"h\" \"log\" (func $log (param i64 i64)))\n  (import \"h\" \"reenter\" (func $reenter (param i32)))\n",
        );
    }
    o.push_str(
        "  (tag $yi (param i32))\n  (tag $yl (param i64))\n  (tag $yd (param f64))\n  (tag $yp (param i32 i64))\n  (tag $yr (param i32) (result i64))\n  (tag $never)\n  (tag $swap)\n  (global $zero (mut i32) (i32.const 0))\n  (global $head (mut i32) (i32.const 0))\n  (global $tail (mut i32) (i32.const 0))\n  (global $iter (mut i64) (i64.const 0))\n  (global $kept (mut (ref null $ct)) (ref.null $ct))\n  (table $q 64 (ref null $ct))\n",
    );
    // The drivers, one per handled subset used.
    let mut sets: Vec<u8> = vec![63];
    if !sets.contains(&prog.sub_set) {
        sets.push(prog.sub_set);
    }
    let mut rings = Vec::new();
    let mut bodies = String::new();
    for (i, ops) in prog.bodies.iter().enumerate() {
        let _ = writeln!(
            bodies,
            "  (func $b{i} (type $f2)\n    (local $k0 (ref null $ct)) (local $k2 (ref null $c2))\n    (call $log (i64.const {}) (local.get 0))\n    (call $log (i64.const {}) (local.get 1))",
            ARGS + i as i64,
            ARGS + i as i64
        );
        emit_ops(&mut bodies, ops, &mut rings);
        bodies.push_str("  )\n");
        for op in ops {
            if let Op::Spawn { set, .. } = op
                && !sets.contains(set)
            {
                sets.push(*set);
            }
        }
    }
    while let Some((id, a, b)) = rings.pop() {
        for (name, ops) in [("a", a), ("b", b)] {
            let _ = writeln!(
                bodies,
                "  (func $r{id}{name} (type $fs)\n    (local $next (ref null $cs)) (local $k0 (ref null $ct)) (local $k2 (ref null $c2))\n    (local.set $next (local.get 0))"
            );
            emit_ops(&mut bodies, &ops, &mut rings);
            bodies.push_str("  )\n");
        }
    }
    o.push_str(&bodies);
    for set in sets {
        let _ = writeln!(
            o,
            "  (func $drive{set} (param $k (ref null $ct)) (param $lvl i64) (result i64)\n    (local $n i64) (local $c i64) (local $v i64) (local $w i64) (local $k1 (ref null $c1))\n    (local.set $c (i64.add (i64.const {HANDLED}) (i64.mul (local.get $lvl) (i64.const 10))))"
        );
        handler_loop(
            &mut o,
            set,
            "(local.get $c)",
            "(local.set $n (i64.add (local.get $n) (i64.const 1)))",
            "",
            "(i64.add (i64.mul (local.get $v) (i64.const 5)) (i64.add (local.get $n) (i64.const 1)))",
        );
        o.push_str("    (local.get $n))\n");
    }
    // The generator and its consumer; `$nop`.
    o.push_str(
        "  (func $rec (call $rec))\n  (func $deep (param $d i32) (param $v i64)\n    (if (i32.eqz (local.get $d)) (then (suspend $yl (local.get $v)) (return)))\n    (call $deep (i32.sub (local.get $d) (i32.const 1)) (local.get $v)))\n  (func $nop)\n  (func $gen (type $f2) (local $i i64)\n    (block $done (loop $l\n      (br_if $done (i64.ge_u (local.get $i) (local.get 0)))\n      (suspend $yl (i64.add (local.get 1) (i64.mul (local.get $i) (i64.const 7))))\n      (local.set $i (i64.add (local.get $i) (i64.const 1)))\n      (br $l))))\n  (func $take (param $k (ref null $ct)) (param $m i32) (result i64) (local $s i64)\n    (block $done (loop $l\n      (br_if $done (i32.eqz (local.get $m)))\n      (local.set $m (i32.sub (local.get $m) (i32.const 1)))\n      (block $y (result i64 (ref $ct))\n        (resume $ct (on $yl $y) (local.get $k))\n        (br $done))\n      (local.set $k)\n      (local.set $s (i64.add (local.get $s)))\n      (br $l)))\n    (local.get $s))\n",
    );
    // sub(j)
    o.push_str("  (func $sub (export \"sub\") (param $j i32) (result i64)\n");
    for j in 0..prog.bodies.len() {
        let _ = writeln!(
            o,
            "    (if (i32.eq (local.get $j) (i32.const {j})) (then (return (call $drive{} {} (i64.const 0)))))",
            prog.sub_set,
            mkcont(j, sub_args(j), j % 2 == 1)
        );
    }
    o.push_str("    unreachable)\n");
    // The scheduler.
    let (push, pop) = (
        "(table.set $q (i32.and (global.get $tail) (i32.const 63)) (local.get $k)) (global.set $tail (i32.add (global.get $tail) (i32.const 1)))",
        if prog.lifo {
            "(global.set $tail (i32.sub (global.get $tail) (i32.const 1))) (local.set $k (table.get $q (i32.and (global.get $tail) (i32.const 63))))"
        } else {
            "(local.set $k (table.get $q (i32.and (global.get $head) (i32.const 63)))) (global.set $head (i32.add (global.get $head) (i32.const 1)))"
        },
    );
    o.push_str(
        "  (func (export \"main\") (result i64)\n    (local $k (ref null $ct)) (local $v i64) (local $w i64)\n    (global.set $head (i32.const 0)) (global.set $tail (i32.const 0)) (global.set $iter (i64.const 0)) (global.set $kept (ref.null $ct))\n",
    );
    if in_module_log {
        o.push_str("    (global.set $hash (i64.const -3750763034362895579))\n");
    }
    for r in &prog.roots {
        let _ = writeln!(
            o,
            "    (local.set $k {})\n    {push}",
            mkcont(r.body, r.args, r.two_binds)
        );
    }
    o.push_str(
        "    (call $sched))\n  (func $sched (export \"drain\") (result i64)\n    (local $k (ref null $ct)) (local $v i64) (local $w i64) (local $k1 (ref null $c1))\n",
    );
    let _ = writeln!(
        o,
        "    (block $stop (loop $next\n    (if (i64.eq (global.get $iter) (i64.const {})) (then (local.set $k (global.get $kept)))\n      (else (br_if $stop (i32.eq (global.get $head) (global.get $tail))) {pop}))\n    (global.set $iter (i64.add (global.get $iter) (i64.const 1)))",
        prog.resume_copy_at
    );
    let after = format!(
        "(if (i64.eq (global.get $iter) (i64.const {})) (then (global.set $kept (local.get $k)))) {push} (br $next)",
        prog.keep_at
    );
    handler_loop(
        &mut o,
        63,
        &format!("(i64.const {SCHED})"),
        &after,
        &format!("(call $log (i64.const {SCHED_DONE}) (global.get $iter)) (br $next)"),
        "(i64.add (i64.mul (local.get $v) (i64.const 3)) (global.get $iter))",
    );
    o.push_str("    ))\n    (global.get $iter))\n");
    let mut names = vec!["$gen".to_string(), "$nop".to_string()];
    for (i, _) in prog.bodies.iter().enumerate() {
        names.push(format!("$b{i}"));
    }
    for op in prog.bodies.iter().flatten() {
        collect_rings(op, &mut names);
    }
    // For the host scheduler (`host_schedule`).
    for (i, _) in prog.bodies.iter().enumerate() {
        let _ = writeln!(o, "  (export \"b{i}\" (func $b{i}))");
    }
    o.push_str("  (export \"yi\" (tag $yi)) (export \"yl\" (tag $yl)) (export \"yd\" (tag $yd)) (export \"yp\" (tag $yp)) (export \"yt\" (tag $yt)) (export \"yr\" (tag $yr))\n");
    let _ = writeln!(o, "  (elem declare func {}))", names.join(" "));
    o
}

fn collect_rings(op: &Op, names: &mut Vec<String>) {
    if let Op::Ring { a, b, id } = op {
        names.push(format!("$r{id}a"));
        names.push(format!("$r{id}b"));
        for op in a.iter().chain(b) {
            collect_rings(op, names);
        }
    }
}

// ---- running in weft ----------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub result: Result<i64, String>,
    pub log: Vec<(i64, i64)>,
}

fn weft_trap(e: &anyhow::Error) -> String {
    use weft::Trap as T;
    match e.downcast_ref::<T>() {
        Some(T::UnreachableCodeReached) => TrapKind::Unreachable.message().into(),
        Some(T::IntegerDivisionByZero) => TrapKind::DivideByZero.message().into(),
        Some(T::ContinuationConsumed) => TrapKind::Consumed.message().into(),
        Some(T::NullContinuation) => TrapKind::NullContinuation.message().into(),
        Some(T::UnhandledTag) => TrapKind::UnhandledTag.message().into(),
        Some(T::StackOverflow) => TrapKind::StackOverflow.message().into(),
        Some(other) => format!("other trap {other:?}"),
        None => format!("error {e:#}"),
    }
}

/// `main`'s scheduler written in Rust over the embedder API
/// (`ContRef::new`, `ContRef::resume`), on a fresh instance: its log and
/// result must be the model's for `main`. A null copy at iteration B is
/// the host's own check (the API has no null contref); a consumed one
/// must be refused by `resume`.
fn host_schedule(
    store: &mut weft::Store<Log>,
    instance: &weft::Instance,
    prog: &Program,
) -> Result<i64, String> {
    let trap = |e: anyhow::Error| weft_trap(&e);
    let export = |store: &mut weft::Store<Log>, name: &str| {
        instance.get_export(&mut *store, name).expect("export")
    };
    let tags: Vec<weft::Tag> = ["yi", "yl", "yd", "yp", "yt", "yr"]
        .iter()
        .map(|n| export(store, n).into_tag().expect("tag"))
        .collect();
    // Each entry: a contref and, for a root, its arguments.
    let mut queue: VecDeque<(weft::ContRef, Vec<weft::Val>)> = VecDeque::new();
    for r in &prog.roots {
        let f = export(store, &format!("b{}", r.body))
            .into_func()
            .expect("func");
        let k = weft::ContRef::new(&mut *store, &f).map_err(trap)?;
        queue.push_back((k, vec![weft::Val::I64(r.args.0), weft::Val::I64(r.args.1)]));
    }
    let mut kept: Option<(weft::ContRef, Vec<weft::Val>)> = None;
    let mut iter = 0i64;
    loop {
        let next = if iter == prog.resume_copy_at {
            kept.clone()
        } else {
            let next = if prog.lifo {
                queue.pop_back()
            } else {
                queue.pop_front()
            };
            match next {
                Some(k) => Some(k),
                None => return Ok(iter),
            }
        };
        iter += 1;
        let (k, args) = next.ok_or_else(|| TrapKind::NullContinuation.message().to_string())?;
        match k.resume(&mut *store, &args, &tags).map_err(trap)? {
            weft::Resumed::Returned(_) => store.data_mut().push((SCHED_DONE, iter)),
            weft::Resumed::Suspended {
                tag,
                payload,
                continuation,
            } => {
                let t = tags.iter().position(|x| *x == tag).expect("a handled tag") as i64;
                let mut args = Vec::new();
                if let (5, [weft::Val::I32(v)]) = (t, &payload[..]) {
                    args.push(weft::Val::I64(
                        i64::from(*v).wrapping_mul(3).wrapping_add(iter),
                    ));
                }
                for v in payload {
                    let v = match v {
                        weft::Val::I32(x) => i64::from(x),
                        weft::Val::I64(x) => x,
                        weft::Val::F64(b) => b as i64,
                        other => return Err(format!("payload {other:?}")),
                    };
                    store.data_mut().push((SCHED + t, v));
                }
                if iter == prog.keep_at {
                    kept = Some((continuation, args.clone()));
                }
                queue.push_back((continuation, args));
            }
        }
    }
}

/// A minimal executor: polls until ready (the futures here wake themselves).
pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    let mut f = std::pin::pin!(f);
    let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
    let mut cx = std::task::Context::from_waker(&waker);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Pending once (waking itself), then ready.
pub(crate) struct YieldOnce(pub(crate) bool);
impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// `log` and `reenter` as async host functions (each pending once before
/// it acts; `reenter` calls `sub` with `call_async`).
fn async_host_funcs(store: &mut weft::Store<Log>) -> (weft::Func, weft::Func) {
    let log = weft::Func::wrap_async(
        &mut *store,
        |mut c: weft::Caller<'_, Log>, (code, v): (i64, i64)| {
            Box::new(async move {
                YieldOnce(false).await;
                c.data_mut().push((code, v));
            })
        },
    );
    let reenter =
        weft::Func::wrap_async(&mut *store, |mut c: weft::Caller<'_, Log>, (j,): (i32,)| {
            Box::new(async move {
                c.data_mut().push((REENTER + i64::from(j), 0));
                YieldOnce(false).await;
                let sub = c.get_export("sub").unwrap().into_func().unwrap();
                let sub = sub.typed::<i32, i64>(&c)?;
                let n = sub.call_async(&mut c, j).await?;
                c.data_mut().push((REENTER_DONE + i64::from(j), n));
                anyhow::Ok(())
            })
        });
    (log, reenter)
}

/// What `sub(j)` does, done by the host with `ContRef::new`/`resume`
/// from inside a host call made by a continuation.
fn host_sub(c: &mut weft::Caller<'_, Log>, j: i32, sub_set: u8) -> anyhow::Result<i64> {
    let tags: Vec<weft::Tag> = ["yi", "yl", "yd", "yp", "yt", "yr"]
        .iter()
        .enumerate()
        .filter(|(i, _)| sub_set & (1 << i) != 0)
        .map(|(_, n)| n)
        .map(|n| c.get_export(n).unwrap().into_tag().unwrap())
        .collect();
    let f = c.get_export(&format!("b{j}")).unwrap().into_func().unwrap();
    let mut k = weft::ContRef::new(&mut *c, &f)?;
    let (a0, a1) = sub_args(j as usize);
    let mut args = vec![weft::Val::I64(a0), weft::Val::I64(a1)];
    let mut count = 0i64;
    loop {
        match k.resume(&mut *c, &args, &tags)? {
            weft::Resumed::Returned(_) => return Ok(count),
            weft::Resumed::Suspended {
                tag,
                payload,
                continuation,
            } => {
                count += 1;
                let all: Vec<weft::Tag> = ["yi", "yl", "yd", "yp", "yt", "yr"]
                    .iter()
                    .map(|n| c.get_export(n).unwrap().into_tag().unwrap())
                    .collect();
                let t = all.iter().position(|x| *x == tag).unwrap() as i64;
                args = Vec::new();
                for v in &payload {
                    let v = match *v {
                        weft::Val::I32(x) => i64::from(x),
                        weft::Val::I64(x) => x,
                        weft::Val::F64(b) => b as i64,
                        ref other => anyhow::bail!("payload {other:?}"),
                    };
                    c.data_mut().push((HANDLED + t, v));
                }
                if let (5, [weft::Val::I32(v)]) = (t, &payload[..]) {
                    args.push(weft::Val::I64(
                        i64::from(*v).wrapping_mul(5).wrapping_add(count),
                    ));
                }
                k = continuation;
            }
        }
    }
}

/// The host import `reenter(j)`: logs, calls the export `sub(j)` (for odd
/// `j`, does what it does with the embedder API), logs.
fn reenter_func(store: &mut weft::Store<Log>, sub_set: u8) -> weft::Func {
    weft::Func::wrap(
        store,
        move |mut c: weft::Caller<'_, Log>, j: i32| -> anyhow::Result<()> {
            c.data_mut().push((REENTER + i64::from(j), 0));
            let n = if j % 2 == 1 {
                host_sub(&mut c, j, sub_set)?
            } else {
                let sub = c.get_export("sub").unwrap().into_func().unwrap();
                let mut out = [weft::Val::I64(0)];
                sub.call(&mut c, &[weft::Val::I32(j)], &mut out)?;
                let weft::Val::I64(n) = out[0] else {
                    unreachable!()
                };
                n
            };
            c.data_mut().push((REENTER_DONE + i64::from(j), n));
            Ok(())
        },
    )
}

/// Two instances of [`PEER`]: the imports `p.y`, `p.t`, `q.y`.
fn peers(engine: &weft::Engine, store: &mut weft::Store<Log>) -> anyhow::Result<Vec<weft::Extern>> {
    let module = weft::Module::new(engine, PEER)?;
    let p = weft::Instance::new(&mut *store, &module, &[])?;
    let q = weft::Instance::new(&mut *store, &module, &[])?;
    let get = |store: &mut weft::Store<Log>, i: &weft::Instance, name: &str| {
        i.exports(&mut *store)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e)
            .expect("peer export")
    };
    Ok(vec![
        get(store, &p, "y"),
        get(store, &p, "t"),
        get(store, &q, "y"),
    ])
}

/// Runs [`CALLS`] in one store with host imports, then `main` once more
/// (the store must survive whatever happened, traps included); then the
/// in-module variant, comparing results and the hash after each call.
/// Returns the first difference from `exp`.
pub fn check(
    engine: &weft::Engine,
    async_calls: bool,
    prog: &Program,
    exp: &Expected,
) -> Option<String> {
    let want: Vec<Observed> = exp
        .calls
        .iter()
        .map(|(r, log)| Observed {
            result: r.map_err(|t| t.message().to_string()),
            log: log.clone(),
        })
        .collect();
    let text = emit(prog, false);
    let module = match weft::Module::new(engine, &text) {
        Ok(m) => m,
        Err(e) => return Some(format!("weft rejects the module: {e:#}")),
    };
    let mut store = weft::Store::new(engine, Log::new());
    let (log, reenter) = if async_calls {
        async_host_funcs(&mut store)
    } else {
        let log = weft::Func::wrap(
            &mut store,
            |mut c: weft::Caller<'_, Log>, code: i64, v: i64| {
                c.data_mut().push((code, v));
            },
        );
        (log, reenter_func(&mut store, prog.sub_set))
    };
    let mut imports = match peers(engine, &mut store) {
        Ok(i) => i,
        Err(e) => return Some(format!("weft cannot instantiate the peers: {e:#}")),
    };
    imports.extend([weft::Extern::from(log), weft::Extern::from(reenter)]);
    let instance = match weft::Instance::new(&mut store, &module, &imports) {
        Ok(i) => i,
        Err(e) => return Some(format!("weft cannot instantiate: {e:#}")),
    };
    let calls = CALLS.iter().chain(&["main"]);
    for (n, (name, want)) in calls.zip(want.iter().chain(&want[..1])).enumerate() {
        let f = instance
            .get_typed_func::<(), i64>(&mut store, name)
            .expect("export");
        store.data_mut().clear();
        let result = if async_calls {
            block_on(f.call_async(&mut store, ()))
        } else {
            f.call(&mut store, ())
        };
        let result = result.map_err(|e| weft_trap(&e));
        let got = Observed {
            result,
            log: std::mem::take(store.data_mut()),
        };
        if &got != want {
            return Some(describe(
                &format!("call {} ({name}) with host imports", n + 1),
                &got,
                want,
            ));
        }
    }
    if async_calls {
        // The rest runs synchronously: done by the other configurations.
        return None;
    }
    // The scheduler in Rust, on a fresh store.
    let mut store = weft::Store::new(engine, Log::new());
    let mut imports = match peers(engine, &mut store) {
        Ok(i) => i,
        Err(e) => return Some(format!("weft cannot instantiate the peers: {e:#}")),
    };
    let log = weft::Func::wrap(
        &mut store,
        |mut c: weft::Caller<'_, Log>, code: i64, v: i64| {
            c.data_mut().push((code, v));
        },
    );
    let reenter = reenter_func(&mut store, prog.sub_set);
    imports.extend([weft::Extern::from(log), weft::Extern::from(reenter)]);
    let instance = match weft::Instance::new(&mut store, &module, &imports) {
        Ok(i) => i,
        Err(e) => return Some(format!("weft cannot instantiate: {e:#}")),
    };
    let result = host_schedule(&mut store, &instance, prog);
    let got = Observed {
        result,
        log: std::mem::take(store.data_mut()),
    };
    if got != want[0] {
        return Some(describe(
            "the scheduler in Rust (ContRef::resume)",
            &got,
            &want[0],
        ));
    }
    // The in-module variant (not where a suspension inside `sub` must stop
    // at the host frame: without one, outer handlers may take it).
    if exp.crossed {
        return None;
    }
    let text = emit(prog, true);
    let module = match weft::Module::new(engine, &text) {
        Ok(m) => m,
        Err(e) => return Some(format!("weft rejects the in-module variant: {e:#}")),
    };
    let mut store = weft::Store::new(engine, Log::new());
    let imports = match peers(engine, &mut store) {
        Ok(i) => i,
        Err(e) => return Some(format!("weft cannot instantiate the peers: {e:#}")),
    };
    let instance = match weft::Instance::new(&mut store, &module, &imports) {
        Ok(i) => i,
        Err(e) => return Some(format!("weft cannot instantiate: {e:#}")),
    };
    let hash = instance
        .get_typed_func::<(), i64>(&mut store, "hash")
        .expect("hash");
    let mut all = Vec::new();
    for (n, (name, want)) in CALLS.iter().zip(&want).enumerate() {
        let f = instance
            .get_typed_func::<(), i64>(&mut store, name)
            .expect("export");
        let result = f.call(&mut store, ()).map_err(|e| weft_trap(&e));
        let h = hash.call(&mut store, ()).map_err(|e| weft_trap(&e));
        all.extend_from_slice(&want.log);
        if result != want.result || h != Ok(hash_log(&all)) {
            return Some(format!(
                "in-module variant, call {} ({name}): weft {result:?} hash {h:?}, model {:?} hash {}",
                n + 1,
                want.result,
                hash_log(&all)
            ));
        }
    }
    None
}

fn describe(what: &str, got: &Observed, want: &Observed) -> String {
    let mut s = format!("{what}: weft {:?}, model {:?}", got.result, want.result);
    if got.log != want.log {
        let i = got
            .log
            .iter()
            .zip(&want.log)
            .position(|(a, b)| a != b)
            .unwrap_or(got.log.len().min(want.log.len()));
        let _ = write!(
            s,
            "; logs differ at entry {i} (weft {} entries, model {}): weft {:?}, model {:?}",
            got.log.len(),
            want.log.len(),
            got.log.get(i),
            want.log.get(i)
        );
    }
    s
}

// ---- shrinking and regression files --------------------------------------------

/// Smaller variants of `p`: a root or an op removed, a body emptied.
fn shrink_candidates(p: &Program) -> Vec<Program> {
    let mut out = Vec::new();
    for i in 0..p.roots.len() {
        if p.roots.len() > 1 {
            let mut q = p.clone();
            q.roots.remove(i);
            out.push(q);
        }
    }
    if p.resume_copy_at >= 0 {
        let mut q = p.clone();
        q.keep_at = 0;
        q.resume_copy_at = -1;
        out.push(q);
    }
    for b in 0..p.bodies.len() {
        for i in 0..p.bodies[b].len() {
            let mut q = p.clone();
            q.bodies[b].remove(i);
            out.push(q);
            if let Op::Ring { a, b: bb, id } = &p.bodies[b][i] {
                for (side, ops) in [(0, a), (1, bb)] {
                    for k in 0..ops.len() {
                        let mut ops2 = ops.clone();
                        ops2.remove(k);
                        let mut q = p.clone();
                        q.bodies[b][i] = if side == 0 {
                            Op::Ring {
                                a: ops2,
                                b: bb.clone(),
                                id: *id,
                            }
                        } else {
                            Op::Ring {
                                a: a.clone(),
                                b: ops2,
                                id: *id,
                            }
                        };
                        out.push(q);
                    }
                }
            }
        }
    }
    out
}

pub fn shrink(engine: &weft::Engine, async_calls: bool, p: Program) -> Program {
    crate::shrink::greedy(p, shrink_candidates, |q| {
        check(engine, async_calls, q, &model(q)).is_some()
    })
}

/// A `.wast` regression: the in-module variant with the model's results.
pub fn wast(p: &Program, seed: u64, index: u64, why: &str) -> String {
    let exp = model(p);
    let mut s = format!(
        ";; Found by the continuation fuzzer (fuzz/src/continuations.rs): weft-fuzz --continuations --seed {seed} --case {index}\n;; {}\n;; Expected behaviour from the model, after shrinking; log folded into `hash`.\n",
        why.replace('\n', " ")
    );
    let _ = write!(
        s,
        "(module $p {}(register \"p\" $p)\n(module $q {}(register \"q\" $q)\n",
        &PEER[8..],
        &PEER[8..]
    );
    if exp.crossed {
        s.push_str(";; NOTE: a suspension inside `sub` finds no handler there; with host imports\n;; it stops at the host frame (unhandled tag), but in this in-module variant\n;; outer handlers may take it: the assertions below are the host variant's.\n");
    }
    s.push_str(&emit(p, true));
    let mut all = Vec::new();
    for (name, (result, log)) in CALLS.iter().zip(&exp.calls) {
        match result {
            Ok(v) => {
                let _ = writeln!(s, "(assert_return (invoke \"{name}\") (i64.const {v}))");
            }
            Err(TrapKind::UnhandledTag) => {
                let _ = writeln!(
                    s,
                    "(assert_suspension (invoke \"{name}\") \"unhandled tag\")"
                );
            }
            Err(t) => {
                let _ = writeln!(s, "(assert_trap (invoke \"{name}\") \"{}\")", t.message());
            }
        }
        all.extend_from_slice(log);
        let _ = writeln!(
            s,
            "(assert_return (invoke \"hash\") (i64.const {}))",
            hash_log(&all)
        );
    }
    s
}

/// The engine configurations; case `i` runs under `ENGINES[i % 4]`.
const ENGINES: [&str; 4] = [
    "default",
    "cranelift_opt_level(None)",
    "continuation_stack_size(32 KiB), continuation_red_zone(8 KiB)",
    "async_support, calls with call_async, async host functions",
];

fn engines() -> Vec<weft::Engine> {
    (0..4)
        .map(|k| {
            let mut c = weft::Config::new();
            c.parallel_compilation(false);
            match k {
                1 => {
                    c.cranelift_opt_level(weft::OptLevel::None);
                }
                2 => {
                    c.continuation_stack_size(32 * 1024);
                    c.continuation_red_zone(8 * 1024);
                }
                3 => {
                    c.async_support(true);
                }
                _ => {}
            }
            weft::Engine::new(&c).expect("engine")
        })
        .collect()
}

/// Runs cases `from..from+cases` of `seed` on `threads` threads; prints
/// and writes failures; returns (passed, failed).
pub fn run(
    seed: u64,
    from: u64,
    cases: u64,
    threads: usize,
    out: &std::path::Path,
    quiet: bool,
) -> (u64, u64) {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};
    let next = AtomicU64::new(from);
    let passed = AtomicU64::new(0);
    let failed = Mutex::new(Vec::new());
    let (traps, events, crossed) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                let engines = engines();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= from + cases {
                        break;
                    }
                    let p = generate(seed, i);
                    let exp = model(&p);
                    let k = (i % 4) as usize;
                    let engine = &engines[k];
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        check(engine, k == 3, &p, &exp)
                    }))
                    .unwrap_or_else(|_| Some("panic".into()));
                    match r {
                        None => {
                            passed.fetch_add(1, Ordering::Relaxed);
                            let (r, log) = &exp.calls[0];
                            traps.fetch_add(u64::from(r.is_err()), Ordering::Relaxed);
                            events.fetch_add(log.len() as u64, Ordering::Relaxed);
                            crossed.fetch_add(u64::from(exp.crossed), Ordering::Relaxed);
                        }
                        Some(why) => {
                            eprintln!("FAILED continuation case {i} (seed {seed}): {why}");
                            let small = shrink(engine, k == 3, p);
                            let exp2 = model(&small);
                            let why2 = check(engine, k == 3, &small, &exp2).unwrap_or(why);
                            let why2 = format!("engine config {}: {why2}", ENGINES[k]);
                            let path = out.join(format!("cont-{seed}-{i}.wast"));
                            let _ = std::fs::create_dir_all(out);
                            match std::fs::write(&path, wast(&small, seed, i, &why2)) {
                                Ok(()) => eprintln!("  wrote {}: {why2}", path.display()),
                                Err(e) => eprintln!("  could not write {}: {e}", path.display()),
                            }
                            failed.lock().unwrap().push(i);
                        }
                    }
                    let done = i + 1 - from;
                    if !quiet && done.is_multiple_of(2_000) {
                        eprintln!(
                            "{done}/{cases} continuation cases, {:.0}/s",
                            done as f64 / start.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
    });
    let (p, f) = (
        passed.load(Ordering::Relaxed),
        failed.lock().unwrap().len() as u64,
    );
    println!(
        "continuations: {p} passed, {f} failed ({cases} cases of seed {seed} in {:.1} s; passing cases: {} trapped in main, {} log entries in main, {} stopped at reenter's host frame)",
        start.elapsed().as_secs_f64(),
        traps.load(Ordering::Relaxed),
        events.load(Ordering::Relaxed),
        crossed.load(Ordering::Relaxed)
    );
    (p, f)
}
