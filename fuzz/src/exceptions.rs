//! Random programs that use exception handling, run in weft and checked
//! against an independent model.
//!
//! ```text
//! case i of seed S: SplitMix -> Program (abstract: functions whose bodies
//!                   are trees of ops, try_table / legacy try nodes)
//!   Program --model--> per export call: result, uncaught exception or
//!                      trap, and the host log   (a Rust interpreter of the
//!                                               tree, never of wasm)
//!   Program --emit--> wat importing h.log, h.throw, h.call, h.tag and two
//!       peer instances --weft--> f0, f1, ... in one store   == model ?
//!   any difference: shrink the Program, write tests/wast/exn-S-i.txt
//! ```
//!
//! The family (fuzz/README.md has the full list). Every function is
//! `(param i64) (result i64)`: local 0 is an accumulator the ops change
//! and the result. Ops: log the accumulator; add to it; `throw` one of
//! seven tags (i32, i64, f32, f64 with NaN-payload bits, i32 i64, exnref,
//! none); `throw_ref` of null (trap); traps; direct calls, `call_indirect`
//! (and its two traps), calls under 0-149 extra wasm frames, tail calls
//! (`return_call`, `return_call_indirect`); the host
//! throwing (the module's tag, a host tag the module imports, one it does
//! not); the host calling an export back (propagating what comes out, or
//! catching an exception itself); a peer instance throwing its tag (the
//! module imports one instance's tag; a second instance's tag of the same
//! type is a different tag); running a function as a continuation whose
//! handler answers `suspend`s, `resume_throw`s into it, abandons it or
//! throws itself; `suspend` (unhandled outside a continuation or across a
//! host frame); `return`; `throw_ref` of an exnref a handler stashed in a
//! global (in this call or an earlier one). Nodes: a plain block; `try_table` with
//! `catch`/`catch_ref`/`catch_all`/`catch_all_ref` clauses whose handlers
//! log what they caught, then carry on, rethrow (`throw_ref`), throw
//! another exception, box the caught exnref in an exception or unbox one;
//! or stash it; the legacy `try` with `catch`/`catch_all` (`rethrow`) and
//! `try ... delegate` to an enclosing legacy `try`, block or the caller.

use crate::SplitMix;
use crate::continuations::{YieldOnce, block_on};
use std::fmt::Write as _;
use std::rc::Rc;

// ---- the abstract program ---------------------------------------------------

/// Tags: 0 `$e0 (param i32)`, 1 `$e1 (param i64)`, 2 `$e2 (param f32)`,
/// 3 `$e3 (param f64)`, 4 `$e4 (param i32 i64)`, 5 `$e5 (param exnref)`,
/// 6 `$e6`; 7 the host's tag `h.tag (param i64)` (imported), 8 another host
/// tag of the same type (not imported), 9 peer `p`'s tag `(param i32)`
/// (imported), 10 peer `q`'s (the same module, another instance: not
/// imported).
const LOCAL_TAGS: usize = 7;
const T_BOX: usize = 5;
const T_HOST: usize = 7;
const T_HOSTX: usize = 8;
const T_PEER: usize = 9;
const T_PEERX: usize = 10;

/// The value types of tag `t`'s payload.
fn tag_types(t: usize) -> &'static [&'static str] {
    match t {
        0 | T_PEER | T_PEERX => &["i32"],
        1 | T_HOST | T_HOSTX => &["i64"],
        2 => &["f32"],
        3 => &["f64"],
        4 => &["i32", "i64"],
        T_BOX => &["exnref"],
        _ => &[],
    }
}

/// The name of tag `t` in the module (only for tags it knows).
fn tag_name(t: usize) -> &'static str {
    [
        "$e0", "$e1", "$e2", "$e3", "$e4", "$e5", "$e6", "$ht", "", "$ep", "",
    ][t]
}

/// An exception made at a throw site (always one of the module's tags).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    Pair(i32, i64),
    /// `$e5` carrying a fresh `$e1(v)` exception, or null.
    Boxed(Option<i64>),
    Empty,
}

impl Payload {
    fn tag(&self) -> usize {
        match self {
            Payload::I32(_) => 0,
            Payload::I64(_) => 1,
            Payload::F32(_) => 2,
            Payload::F64(_) => 3,
            Payload::Pair(..) => 4,
            Payload::Boxed(_) => 5,
            Payload::Empty => 6,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    Unreachable,
    DivideByZero,
    StackOverflow,
    NullReference,
    IndirectNull,
    BadSignature,
    UnhandledTag,
}

impl TrapKind {
    fn message(self) -> &'static str {
        match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::DivideByZero => "integer divide by zero",
            TrapKind::StackOverflow => "call stack exhausted",
            TrapKind::NullReference => "null reference",
            TrapKind::IndirectNull => "uninitialized element",
            TrapKind::BadSignature => "indirect call type mismatch",
            TrapKind::UnhandledTag => "unhandled tag",
        }
    }
}

/// What a handler does once it has logged what it caught.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Adds `v` to the accumulator; execution goes on after the node.
    Continue(i64),
    /// `throw_ref` of the caught exnref (ref clauses), `rethrow` (legacy).
    Rethrow,
    Throw(Payload),
    /// `throw $e5` with the caught exnref (ref clauses).
    Box,
    /// `throw_ref` of the caught `$e5`'s payload (null: trap).
    Unbox,
    /// Keeps the caught exnref in the global `$stash` (ref clauses; it
    /// outlives the call) and carries on like `Continue(0)`.
    Stash,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ClauseKind {
    Catch(usize),
    CatchRef(usize),
    CatchAll,
    CatchAllRef,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    kind: ClauseKind,
    /// Names the handler in the log.
    id: u32,
    action: Action,
}

/// What a continuation's handler does at the n-th `suspend` (the last
/// entry repeats; none: always `Answer`).
#[derive(Debug, Clone, PartialEq)]
pub enum ContAction {
    /// Resumes with `3v + n`.
    Answer,
    /// `resume_throw` of this exception into the continuation.
    ResumeThrow(Payload),
    /// `resume_throw_ref` of a fresh `$e1(v)` exception.
    ResumeThrowRef(i64),
    /// Drops the continuation; the op's result is `r`.
    Abandon(i64),
    /// Throws in the handler (outside the continuation).
    Throw(Payload),
}

/// The function-body label, as a `delegate` target.
const FUNC: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Logs the accumulator plus `v`.
    Log(i64),
    Add(i64),
    Throw(Payload),
    Trap(TrapKind),
    Call(usize),
    CallIndirect(usize),
    /// `return_call` (`return_call_indirect`): what the callee throws
    /// passes no handler of this function.
    TailCall {
        func: usize,
        indirect: bool,
    },
    /// Calls function `func` (through `call_indirect`) under `depth`
    /// recursive frames of a helper.
    Deep {
        depth: u32,
        func: usize,
    },
    /// The host throws: 0 the module's `$e1`, 1 the imported host tag,
    /// 2 a host tag the module does not know; payload `v`.
    HostThrow {
        sel: u8,
        v: i64,
    },
    /// The host calls the export `f{func}`; `catch`: it catches an
    /// exception coming out (logs it, returns 7777), else propagates it.
    HostCall {
        func: usize,
        catch: bool,
    },
    /// Peer `p` (or `q`, `foreign`) throws its tag.
    PeerThrow {
        foreign: bool,
        v: i32,
    },
    /// Runs `func` as a continuation (`first_throw`: `resume_throw`
    /// before it ever ran).
    Cont {
        func: usize,
        id: u32,
        first_throw: Option<Payload>,
        actions: Vec<ContAction>,
    },
    /// `suspend $y (v)`: adds the answer to the accumulator.
    Suspend(i64),
    /// `throw_ref` of the global `$stash` (null until a handler stashed
    /// one, in this call or an earlier one: trap).
    ThrowStash,
    Return,
    Block {
        id: u32,
        body: Vec<Node>,
    },
    TryTable {
        id: u32,
        body: Vec<Node>,
        clauses: Vec<Clause>,
    },
    /// Legacy `try`: `catch $t` (Some) and `catch_all` (None, last).
    Try {
        id: u32,
        body: Vec<Node>,
        catches: Vec<(Option<usize>, u32, Action)>,
    },
    /// Legacy `try ... delegate` to the enclosing node `target` (a `Block`
    /// or `Try`, or [`FUNC`]).
    Delegate {
        body: Vec<Node>,
        target: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    funcs: Vec<Vec<Node>>,
    /// The argument of each export call (`f0`, `f1`, ... in order).
    args: Vec<i64>,
}

/// A log: (code, value) per host call, in order.
type Log = Vec<(i64, i64)>;

// Log codes.
const LOG_OP: i64 = 1;
const HANDLER: i64 = 10_000; // + handler id
const CONT: i64 = 20_000; // + cont id
const HOST_CALL: i64 = 30_000; // + func
const HOST_RET: i64 = 30_100; // + func
const HOST_CAUGHT: i64 = 30_200; // value: the tag; then 30_201 per payload value
const HOST_CAUGHT_RESULT: i64 = 7777;

// ---- generation -------------------------------------------------------------

struct Gen {
    rng: SplitMix,
    next_id: u32,
    nfuncs: usize,
    /// Calls of other functions the current function may still make (so
    /// that the call tree stays small).
    calls_left: u32,
    /// Functions meant to run as continuations (they suspend more often;
    /// `Cont` picks them first).
    cont_bodies: Vec<bool>,
    no_legacy: bool,
}

impl Gen {
    fn below(&mut self, n: u64) -> u64 {
        self.rng.next_u64() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
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
        // Tags 0 and 1 half the time (so that handlers for them match).
        let t = if self.chance(50) {
            self.below(2)
        } else {
            self.below(7)
        };
        match t {
            0 => Payload::I32(self.value() as i32),
            1 => Payload::I64(self.value()),
            2 => Payload::F32(match self.below(4) {
                0 => 0x8000_0000,
                1 => 0x7fa0_0001, // a NaN with payload bits
                2 => 0xffc0_0000,
                _ => (self.value() as f32).to_bits(),
            }),
            3 => Payload::F64(match self.below(4) {
                0 => 0x8000_0000_0000_0000,
                1 => 0x7ff4_0000_0000_0001,
                2 => 0x7ff0_0000_0000_0000,
                _ => (self.value() as f64 * 0.5).to_bits(),
            }),
            4 => Payload::Pair(self.value() as i32, self.value()),
            5 => Payload::Boxed(if self.chance(85) {
                Some(self.value())
            } else {
                None
            }),
            _ => Payload::Empty,
        }
    }
    fn handler_tag(&mut self) -> usize {
        // The module's tags, the imported host tag and the peer's.
        match self.below(10) {
            0..=2 => self.below(LOCAL_TAGS as u64) as usize,
            3..=6 => self.below(2) as usize,
            7 => T_HOST,
            8 => T_PEER,
            _ => T_BOX,
        }
    }
    fn action(&mut self, has_ref: bool, caught: Option<usize>, legacy: bool, depth: u32) -> Action {
        // Handlers at the top of a function mostly carry on.
        if depth == 0 && self.chance(60) {
            return Action::Continue(self.value());
        }
        loop {
            let a = match self.below(12) {
                0..=5 => Action::Continue(self.value()),
                6 | 7 => Action::Throw(self.payload()),
                8 | 9 if has_ref || legacy => Action::Rethrow,
                10 if has_ref && !legacy => {
                    if self.chance(50) {
                        Action::Box
                    } else {
                        Action::Stash
                    }
                }
                11 if caught == Some(T_BOX) => Action::Unbox,
                _ => continue,
            };
            return a;
        }
    }
    fn cont_action(&mut self) -> ContAction {
        match self.below(10) {
            0..=3 => ContAction::Answer,
            4 | 5 => ContAction::ResumeThrow(self.payload()),
            6 => ContAction::ResumeThrowRef(self.value()),
            7 => ContAction::Abandon(self.value()),
            _ => ContAction::Throw(self.payload()),
        }
    }
    fn trap(&mut self) -> TrapKind {
        [
            TrapKind::Unreachable,
            TrapKind::DivideByZero,
            TrapKind::StackOverflow,
            TrapKind::NullReference,
            TrapKind::IndirectNull,
            TrapKind::BadSignature,
        ][self.below(6) as usize]
    }
    /// A sequence of nodes in function `f`; `targets`: the enclosing
    /// delegate targets (innermost last).
    fn seq(&mut self, f: usize, depth: u32, targets: &mut Vec<u32>) -> Vec<Node> {
        let n = 1 + self.below(if depth == 0 { 7 } else { 4 });
        (0..n).map(|_| self.node(f, depth, targets)).collect()
    }
    fn node(&mut self, f: usize, depth: u32, targets: &mut Vec<u32>) -> Node {
        let higher = f + 1 < self.nfuncs && self.calls_left > 0;
        let callee = |g: &mut Gen| f + 1 + g.below((g.nfuncs - f - 1) as u64) as usize;
        let nest = depth < 3;
        loop {
            // At the top of a function, mostly handler nodes (so that the
            // function goes on after a throw), few throws.
            let roll = if self.cont_bodies[f] && self.chance(12) {
                56
            } else if depth == 0 && self.chance(45) {
                [66, 70, 75, 80, 86, 90, 94, 63][self.below(8) as usize]
            } else {
                self.below(100)
            };
            let node = match roll {
                0..=11 => Node::Log(self.value()),
                12..=15 => Node::Add(self.value()),
                16..=27 => {
                    if self.chance(10) {
                        Node::ThrowStash
                    } else {
                        Node::Throw(self.payload())
                    }
                }
                28..=29 if self.chance(60) => Node::Trap(self.trap()),
                30..=35 if higher => Node::Call(callee(self)),
                36..=37 if higher => Node::CallIndirect(callee(self)),
                38 if higher => Node::TailCall {
                    func: callee(self),
                    indirect: self.chance(50),
                },
                39..=40 if higher => Node::Deep {
                    depth: self.below(150) as u32,
                    func: callee(self),
                },
                41..=43 => Node::HostThrow {
                    sel: self.below(3) as u8,
                    v: self.value(),
                },
                44..=47 if higher => Node::HostCall {
                    func: callee(self),
                    catch: self.chance(50),
                },
                48..=49 => Node::PeerThrow {
                    foreign: self.chance(40),
                    v: self.value() as i32,
                },
                50..=55 if higher => {
                    let n = self.below(4);
                    let bodies: Vec<usize> = (f + 1..self.nfuncs)
                        .filter(|&j| self.cont_bodies[j])
                        .collect();
                    let func = if !bodies.is_empty() && self.chance(80) {
                        bodies[self.below(bodies.len() as u64) as usize]
                    } else {
                        callee(self)
                    };
                    Node::Cont {
                        func,
                        id: self.id(),
                        first_throw: if self.chance(10) {
                            Some(self.payload())
                        } else {
                            None
                        },
                        actions: (0..n).map(|_| self.cont_action()).collect(),
                    }
                }
                56..=61 if self.chance(if self.cont_bodies[f] { 90 } else { 10 }) => {
                    Node::Suspend(self.value())
                }
                62 => {
                    if self.chance(50) {
                        Node::Return
                    } else {
                        Node::ThrowStash
                    }
                }
                63..=65 if nest => {
                    let id = self.id();
                    targets.push(id);
                    let body = self.seq(f, depth + 1, targets);
                    targets.pop();
                    Node::Block { id, body }
                }
                66..=85 if nest => {
                    let id = self.id();
                    let body = self.seq(f, depth + 1, targets);
                    let n = 1 + self.below(3);
                    let clauses = (0..n)
                        .map(|_| {
                            let kind = match self.below(10) {
                                0..=3 => ClauseKind::Catch(self.handler_tag()),
                                4..=6 => ClauseKind::CatchRef(self.handler_tag()),
                                7 => ClauseKind::CatchAll,
                                _ => ClauseKind::CatchAllRef,
                            };
                            let (has_ref, caught) = match kind {
                                ClauseKind::Catch(t) => (false, Some(t)),
                                ClauseKind::CatchRef(t) => (true, Some(t)),
                                ClauseKind::CatchAll => (false, None),
                                ClauseKind::CatchAllRef => (true, None),
                            };
                            Clause {
                                kind,
                                id: self.id(),
                                action: self.action(has_ref, caught, false, depth),
                            }
                        })
                        .collect::<Vec<_>>();
                    let mut clauses = clauses;
                    if self.chance(30) {
                        let (kind, has_ref) = if self.chance(50) {
                            (ClauseKind::CatchAll, false)
                        } else {
                            (ClauseKind::CatchAllRef, true)
                        };
                        clauses.push(Clause {
                            kind,
                            id: self.id(),
                            action: self.action(has_ref, None, false, depth),
                        });
                    }
                    Node::TryTable { id, body, clauses }
                }
                86..=93 if nest => {
                    let id = self.id();
                    targets.push(id);
                    let body = self.seq(f, depth + 1, targets);
                    targets.pop();
                    let n = self.below(3);
                    let mut catches: Vec<(Option<usize>, u32, Action)> = (0..n)
                        .map(|_| {
                            let t = self.handler_tag();
                            (Some(t), self.id(), self.action(false, Some(t), true, depth))
                        })
                        .collect();
                    if n == 0 || self.chance(40) {
                        let id = self.id();
                        catches.push((None, id, self.action(false, None, true, depth)));
                    }
                    Node::Try { id, body, catches }
                }
                94..=97 if nest => {
                    let body = self.seq(f, depth + 1, targets);
                    let k = self.below(targets.len() as u64 + 1) as usize;
                    let target = if k == targets.len() { FUNC } else { targets[k] };
                    Node::Delegate { body, target }
                }
                _ => continue,
            };
            // WEFT_FUZZ_NO_LEGACY: no legacy `try` (for engines without it,
            // such as wasmtime, to check the model with `--write`).
            if matches!(node, Node::Try { .. } | Node::Delegate { .. }) && self.no_legacy {
                continue;
            }
            let throws = matches!(
                node,
                Node::Throw(_) | Node::Trap(_) | Node::HostThrow { .. } | Node::PeerThrow { .. }
            ) || (matches!(node, Node::Suspend(_)) && !self.cont_bodies[f]);
            if throws && depth == 0 && self.chance(90) {
                continue;
            }
            if matches!(
                node,
                Node::Call(_)
                    | Node::CallIndirect(_)
                    | Node::TailCall { .. }
                    | Node::Deep { .. }
                    | Node::HostCall { .. }
                    | Node::Cont { .. }
            ) {
                self.calls_left -= 1;
            }
            return node;
        }
    }
}

pub fn generate(seed: u64, index: u64) -> Program {
    let mut g = Gen {
        rng: SplitMix(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ index.wrapping_mul(0x9e37_79b9)),
        next_id: 0,
        nfuncs: 0,
        calls_left: 0,
        cont_bodies: Vec::new(),
        no_legacy: std::env::var_os("WEFT_FUZZ_NO_LEGACY").is_some(),
    };
    g.nfuncs = 1 + g.below(6) as usize;
    g.cont_bodies = (0..g.nfuncs).map(|f| f > 0 && g.chance(50)).collect();
    let funcs = (0..g.nfuncs)
        .map(|f| {
            g.calls_left = 3;
            g.seq(f, 0, &mut Vec::new())
        })
        .collect();
    let args = (0..g.nfuncs).map(|_| g.value()).collect();
    Program { funcs, args }
}

// ---- the model ----------------------------------------------------------------

/// A value in an exception's payload.
#[derive(Debug, Clone, PartialEq)]
enum V {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    Exn(Option<Rc<Exn>>),
}

impl V {
    /// What a handler (or the host) logs for it.
    fn logged(&self) -> i64 {
        match self {
            V::I32(v) => i64::from(*v),
            V::I64(v) => *v,
            V::F32(b) => i64::from(*b),
            V::F64(b) => *b as i64,
            V::Exn(e) => i64::from(e.is_some()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Exn {
    tag: usize,
    vals: Vec<V>,
}

fn make(p: &Payload) -> Rc<Exn> {
    let vals = match *p {
        Payload::I32(v) => vec![V::I32(v)],
        Payload::I64(v) => vec![V::I64(v)],
        Payload::F32(b) => vec![V::F32(b)],
        Payload::F64(b) => vec![V::F64(b)],
        Payload::Pair(a, b) => vec![V::I32(a), V::I64(b)],
        Payload::Boxed(inner) => vec![V::Exn(inner.map(|v| {
            Rc::new(Exn {
                tag: 1,
                vals: vec![V::I64(v)],
            })
        }))],
        Payload::Empty => vec![],
    };
    Rc::new(Exn { tag: p.tag(), vals })
}

/// Why evaluation left a node other than by completing it.
#[derive(Debug)]
enum Unwind {
    Exn(Rc<Exn>),
    /// An exception delegated to the node with this id.
    Delegate(Rc<Exn>, u32),
    Trap(TrapKind),
    /// The innermost continuation's handler dropped it: its op's result.
    Abandon(i64),
    /// The innermost continuation's handler threw.
    AbandonThrow(Rc<Exn>),
    Return,
}

/// What a `suspend` finds, innermost last.
enum Barrier {
    Cont {
        n: i64,
        id: u32,
        actions: Vec<ContAction>,
    },
    Host,
}

/// The outcome of one export call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Returned(i64),
    Trapped(String),
    /// An uncaught exception: its tag and payload as logged.
    Uncaught(usize, Vec<i64>),
}

struct Model<'p> {
    prog: &'p Program,
    log: Log,
    barriers: Vec<Barrier>,
    /// The global `$stash`.
    stash: Option<Rc<Exn>>,
    /// A `suspend` found a host frame first (the in-module variant, with
    /// no host frame, would differ).
    crossed: bool,
}

impl Model<'_> {
    fn call(&mut self, f: usize, arg: i64) -> Result<i64, Unwind> {
        let mut acc = arg;
        match self.seq(&self.prog.funcs[f], &mut acc) {
            Ok(()) | Err(Unwind::Return) => Ok(acc),
            Err(Unwind::Delegate(e, FUNC)) => Err(Unwind::Exn(e)),
            Err(u) => Err(u),
        }
    }

    fn seq(&mut self, nodes: &[Node], acc: &mut i64) -> Result<(), Unwind> {
        for n in nodes {
            self.node(n, acc)?;
        }
        Ok(())
    }

    fn handle(
        &mut self,
        id: u32,
        vals: &[V],
        action: &Action,
        e: &Rc<Exn>,
        acc: &mut i64,
    ) -> Result<(), Unwind> {
        let code = HANDLER + i64::from(id);
        self.log.push((code, vals.len() as i64));
        for v in vals {
            self.log.push((code, v.logged()));
        }
        match action {
            Action::Continue(v) => {
                *acc = acc.wrapping_add(*v);
                Ok(())
            }
            Action::Rethrow => Err(Unwind::Exn(e.clone())),
            Action::Throw(p) => Err(Unwind::Exn(make(p))),
            Action::Box => Err(Unwind::Exn(Rc::new(Exn {
                tag: T_BOX,
                vals: vec![V::Exn(Some(e.clone()))],
            }))),
            Action::Stash => {
                self.stash = Some(e.clone());
                Ok(())
            }
            Action::Unbox => match &e.vals[0] {
                V::Exn(Some(inner)) => Err(Unwind::Exn(inner.clone())),
                _ => Err(Unwind::Trap(TrapKind::NullReference)),
            },
        }
    }

    fn node(&mut self, n: &Node, acc: &mut i64) -> Result<(), Unwind> {
        match n {
            Node::Log(v) => self.log.push((LOG_OP, acc.wrapping_add(*v))),
            Node::Add(v) => *acc = acc.wrapping_add(*v),
            Node::Throw(p) => return Err(Unwind::Exn(make(p))),
            Node::Trap(k) => return Err(Unwind::Trap(*k)),
            Node::Call(f) | Node::CallIndirect(f) | Node::Deep { func: f, .. } => {
                *acc = self.call(*f, *acc)?
            }
            Node::TailCall { func, .. } => {
                return Err(match self.call(*func, *acc) {
                    Ok(x) => {
                        *acc = x;
                        Unwind::Return
                    }
                    // This function's frame is gone: to its caller.
                    Err(Unwind::Exn(e)) => Unwind::Delegate(e, FUNC),
                    Err(u) => u,
                });
            }
            Node::HostThrow { sel, v } => {
                return Err(Unwind::Exn(Rc::new(Exn {
                    tag: [1, T_HOST, T_HOSTX][*sel as usize],
                    vals: vec![V::I64(*v)],
                })));
            }
            Node::HostCall { func, catch } => {
                self.log.push((HOST_CALL + *func as i64, *acc));
                self.barriers.push(Barrier::Host);
                let r = self.call(*func, *acc);
                self.barriers.pop();
                match r {
                    Ok(x) => {
                        self.log.push((HOST_RET + *func as i64, x));
                        *acc = x;
                    }
                    Err(Unwind::Exn(e)) if *catch => {
                        self.log.push((HOST_CAUGHT, e.tag as i64));
                        for v in &e.vals {
                            self.log.push((HOST_CAUGHT + 1, v.logged()));
                        }
                        *acc = HOST_CAUGHT_RESULT;
                    }
                    Err(u) => return Err(u),
                }
            }
            Node::PeerThrow { foreign, v } => {
                return Err(Unwind::Exn(Rc::new(Exn {
                    tag: if *foreign { T_PEERX } else { T_PEER },
                    vals: vec![V::I32(*v)],
                })));
            }
            Node::Cont {
                func,
                id,
                first_throw,
                actions,
            } => {
                if let Some(p) = first_throw {
                    return Err(Unwind::Exn(make(p)));
                }
                self.barriers.push(Barrier::Cont {
                    n: 0,
                    id: *id,
                    actions: actions.clone(),
                });
                let r = self.call(*func, *acc);
                self.barriers.pop();
                match r {
                    Ok(x) | Err(Unwind::Abandon(x)) => *acc = x,
                    Err(Unwind::AbandonThrow(e)) => return Err(Unwind::Exn(e)),
                    Err(u) => return Err(u),
                }
            }
            Node::Suspend(v) => {
                let Some(Barrier::Cont { n, id, actions }) = self.barriers.last_mut() else {
                    self.crossed |= !self.barriers.is_empty();
                    return Err(Unwind::Trap(TrapKind::UnhandledTag));
                };
                *n += 1;
                let n = *n;
                self.log.push((CONT + i64::from(*id), *v));
                let action = actions
                    .get((n as usize - 1).min(actions.len().saturating_sub(1)))
                    .cloned()
                    .unwrap_or(ContAction::Answer);
                match action {
                    ContAction::Answer => {
                        *acc = acc.wrapping_add(v.wrapping_mul(3).wrapping_add(n))
                    }
                    ContAction::ResumeThrow(p) => return Err(Unwind::Exn(make(&p))),
                    ContAction::ResumeThrowRef(v) => {
                        return Err(Unwind::Exn(Rc::new(Exn {
                            tag: 1,
                            vals: vec![V::I64(v)],
                        })));
                    }
                    ContAction::Abandon(r) => return Err(Unwind::Abandon(r)),
                    ContAction::Throw(p) => return Err(Unwind::AbandonThrow(make(&p))),
                }
            }
            Node::Return => return Err(Unwind::Return),
            Node::ThrowStash => {
                return Err(match &self.stash {
                    Some(e) => Unwind::Exn(e.clone()),
                    None => Unwind::Trap(TrapKind::NullReference),
                });
            }
            Node::Block { id, body } => match self.seq(body, acc) {
                Err(Unwind::Delegate(e, t)) if t == *id => return Err(Unwind::Exn(e)),
                r => return r,
            },
            Node::TryTable { body, clauses, .. } => match self.seq(body, acc) {
                Err(Unwind::Exn(e)) => {
                    for c in clauses {
                        let (matches, vals, ref_) = match c.kind {
                            ClauseKind::Catch(t) => (e.tag == t, true, false),
                            ClauseKind::CatchRef(t) => (e.tag == t, true, true),
                            ClauseKind::CatchAll => (true, false, false),
                            ClauseKind::CatchAllRef => (true, false, true),
                        };
                        if matches {
                            let mut logged = if vals { e.vals.clone() } else { vec![] };
                            if ref_ {
                                logged.push(V::Exn(Some(e.clone())));
                            }
                            return self.handle(c.id, &logged, &c.action, &e, acc);
                        }
                    }
                    return Err(Unwind::Exn(e));
                }
                r => return r,
            },
            Node::Try { id, body, catches } => {
                let e = match self.seq(body, acc) {
                    Err(Unwind::Exn(e)) => e,
                    Err(Unwind::Delegate(e, t)) if t == *id => e,
                    r => return r,
                };
                for (tag, hid, action) in catches {
                    match tag {
                        Some(t) if *t == e.tag => {
                            let vals = e.vals.clone();
                            return self.handle(*hid, &vals, action, &e, acc);
                        }
                        None => return self.handle(*hid, &[], action, &e, acc),
                        _ => {}
                    }
                }
                return Err(Unwind::Exn(e));
            }
            Node::Delegate { body, target } => match self.seq(body, acc) {
                Err(Unwind::Exn(e)) => return Err(Unwind::Delegate(e, *target)),
                r => return r,
            },
        }
        Ok(())
    }
}

/// For each export call in order: its outcome and the host log.
pub fn model(prog: &Program) -> Vec<(Outcome, Log)> {
    model_crossed(prog).0
}

/// [`model`], and whether a `suspend` stopped at a host frame.
fn model_crossed(prog: &Program) -> (Vec<(Outcome, Log)>, bool) {
    let mut m = Model {
        prog,
        log: Vec::new(),
        barriers: Vec::new(),
        stash: None,
        crossed: false,
    };
    let calls = (0..prog.funcs.len())
        .map(|f| {
            let r = match m.call(f, prog.args[f]) {
                Ok(v) => Outcome::Returned(v),
                Err(Unwind::Exn(e)) => {
                    Outcome::Uncaught(e.tag, e.vals.iter().map(V::logged).collect())
                }
                Err(Unwind::Trap(k)) => Outcome::Trapped(k.message().into()),
                Err(u) => unreachable!("{u:?} at the top"),
            };
            (r, std::mem::take(&mut m.log))
        })
        .collect::<Vec<_>>();
    (calls, m.crossed)
}

// ---- wasm text ----------------------------------------------------------------

/// The peer module, instantiated twice (`p` and `q`).
pub const PEER: &str = "(module\n  (tag $t (export \"t\") (param i32))\n  (func (export \"throw\") (param i32) (throw $t (local.get 0))))\n";

/// The instructions pushing `p`'s payload.
fn payload_code(p: &Payload) -> String {
    match *p {
        Payload::I32(v) => format!("(i32.const {v})"),
        Payload::I64(v) => format!("(i64.const {v})"),
        Payload::F32(b) => format!("(f32.reinterpret_i32 (i32.const {}))", b as i32),
        Payload::F64(b) => format!("(f64.reinterpret_i64 (i64.const {}))", b as i64),
        Payload::Pair(a, b) => format!("(i32.const {a}) (i64.const {b})"),
        Payload::Boxed(Some(v)) => format!("(call $mk (i64.const {v}))"),
        Payload::Boxed(None) => "(ref.null exn)".into(),
        Payload::Empty => String::new(),
    }
}

fn throw_code(p: &Payload) -> String {
    format!("(throw {} {})", tag_name(p.tag()), payload_code(p))
}

/// The temporaries a caught value of type `ty` goes through.
fn temp(ty: &str) -> &'static str {
    match ty {
        "i32" => "$ti",
        "i64" => "$tl",
        "f32" => "$tf",
        "f64" => "$td",
        _ => "$te",
    }
}

fn log_temp(ty: &str) -> &'static str {
    match ty {
        "i32" => "(i64.extend_i32_s (local.get $ti))",
        "i64" => "(local.get $tl)",
        "f32" => "(i64.extend_i32_u (i32.reinterpret_f32 (local.get $tf)))",
        "f64" => "(i64.reinterpret_f64 (local.get $td))",
        "exnref" => "(i64.extend_i32_u (i32.eqz (ref.is_null (local.get $te))))",
        _ => "(i64.extend_i32_u (i32.eqz (ref.is_null (local.get $tx))))",
    }
}

struct Emitter {
    /// The labels open in the current function (node ids; others `None`).
    labels: Vec<Option<u32>>,
    /// Continuation helpers to emit: (id, func, first_throw, actions).
    conts: Vec<(u32, usize, Option<Payload>, Vec<ContAction>)>,
}

impl Emitter {
    /// A handler's code with the caught values on the stack: `types` (the
    /// payload, then `exnref` for a ref clause, named "ref").
    fn handler(
        &self,
        out: &mut String,
        id: u32,
        types: &[&str],
        action: &Action,
        legacy_label: Option<u32>,
    ) {
        for ty in types.iter().rev() {
            let t = if *ty == "ref" { "$tx" } else { temp(ty) };
            let _ = write!(out, " (local.set {t})");
        }
        let code = HANDLER + i64::from(id);
        let _ = write!(
            out,
            " (call $log (i64.const {code}) (i64.const {}))",
            types.len()
        );
        for ty in types {
            let _ = write!(out, " (call $log (i64.const {code}) {})", log_temp(ty));
        }
        let _ = match action {
            Action::Continue(v) => write!(
                out,
                " (local.set 0 (i64.add (local.get 0) (i64.const {v})))"
            ),
            Action::Rethrow => match legacy_label {
                Some(l) => write!(out, " (rethrow $L{l})"),
                None => write!(out, " (throw_ref (local.get $tx))"),
            },
            Action::Throw(p) => write!(out, " {}", throw_code(p)),
            Action::Box => write!(out, " (throw $e5 (local.get $tx))"),
            Action::Unbox => write!(out, " (throw_ref (local.get $te))"),
            Action::Stash => write!(out, " (global.set $stash (local.get $tx))"),
        };
        out.push('\n');
    }

    fn seq(&mut self, out: &mut String, nodes: &[Node]) {
        for n in nodes {
            self.node(out, n);
        }
    }

    fn node(&mut self, out: &mut String, n: &Node) {
        let _ = match n {
            Node::Log(v) => writeln!(
                out,
                "(call $log (i64.const {LOG_OP}) (i64.add (local.get 0) (i64.const {v})))"
            ),
            Node::Add(v) => writeln!(out, "(local.set 0 (i64.add (local.get 0) (i64.const {v})))"),
            Node::Throw(p) => writeln!(out, "{}", throw_code(p)),
            Node::Trap(k) => writeln!(
                out,
                "{}",
                match k {
                    TrapKind::Unreachable => "unreachable",
                    TrapKind::DivideByZero => "(drop (i32.div_u (i32.const 1) (global.get $zero)))",
                    TrapKind::StackOverflow => "(call $rec)",
                    TrapKind::NullReference => "(throw_ref (ref.null exn))",
                    TrapKind::IndirectNull =>
                        "(local.set 0 (call_indirect $tab (type $ft) (local.get 0) (global.get $nullslot)))",
                    TrapKind::BadSignature =>
                        "(local.set 0 (call_indirect $tab (type $ft) (local.get 0) (global.get $nopslot)))",
                    TrapKind::UnhandledTag => unreachable!("not generated"),
                }
            ),
            Node::Call(f) => writeln!(out, "(local.set 0 (call $f{f} (local.get 0)))"),
            Node::CallIndirect(f) => writeln!(
                out,
                "(local.set 0 (call_indirect $tab (type $ft) (local.get 0) (i32.const {f})))"
            ),
            Node::TailCall {
                func,
                indirect: false,
            } => writeln!(out, "(return_call $f{func} (local.get 0))"),
            Node::TailCall {
                func,
                indirect: true,
            } => writeln!(
                out,
                "(return_call_indirect $tab (type $ft) (local.get 0) (i32.const {func}))"
            ),
            Node::Deep { depth, func } => writeln!(
                out,
                "(local.set 0 (call $down (i32.const {depth}) (local.get 0) (i32.const {func})))"
            ),
            Node::HostThrow { sel, v } => {
                writeln!(out, "(call $hthrow (i32.const {sel}) (i64.const {v}))")
            }
            Node::HostCall { func, catch } => writeln!(
                out,
                "(local.set 0 (call $hcall (i32.const {func}) (local.get 0) (i32.const {})))",
                i32::from(*catch)
            ),
            Node::PeerThrow { foreign, v } => writeln!(
                out,
                "(call {} (i32.const {v}))",
                if *foreign { "$qthrow" } else { "$pthrow" }
            ),
            Node::Cont {
                func,
                id,
                first_throw,
                actions,
            } => {
                self.conts
                    .push((*id, *func, first_throw.clone(), actions.clone()));
                writeln!(out, "(local.set 0 (call $k{id} (local.get 0)))")
            }
            Node::Suspend(v) => writeln!(
                out,
                "(local.set 0 (i64.add (local.get 0) (suspend $y (i64.const {v}))))"
            ),
            Node::Return => writeln!(out, "(return (local.get 0))"),
            Node::ThrowStash => writeln!(out, "(throw_ref (global.get $stash))"),
            Node::Block { id, body } => {
                let _ = writeln!(out, "(block $L{id}");
                self.labels.push(Some(*id));
                self.seq(out, body);
                self.labels.pop();
                writeln!(out, ")")
            }
            Node::TryTable { id, body, clauses } => {
                let _ = writeln!(out, "(block $A{id}");
                self.labels.push(None);
                let mut types = Vec::new();
                for (k, c) in clauses.iter().enumerate().rev() {
                    let mut ty: Vec<&str> = match c.kind {
                        ClauseKind::Catch(t) | ClauseKind::CatchRef(t) => tag_types(t).to_vec(),
                        _ => vec![],
                    };
                    if matches!(c.kind, ClauseKind::CatchRef(_) | ClauseKind::CatchAllRef) {
                        ty.push("exnref");
                    }
                    let _ = writeln!(out, "(block $H{id}_{k} (result {})", ty.join(" "));
                    self.labels.push(None);
                    types.push(ty);
                }
                types.reverse();
                out.push_str("(try_table");
                for (k, c) in clauses.iter().enumerate() {
                    let _ = match c.kind {
                        ClauseKind::Catch(t) => write!(out, " (catch {} $H{id}_{k})", tag_name(t)),
                        ClauseKind::CatchRef(t) => {
                            write!(out, " (catch_ref {} $H{id}_{k})", tag_name(t))
                        }
                        ClauseKind::CatchAll => write!(out, " (catch_all $H{id}_{k})"),
                        ClauseKind::CatchAllRef => write!(out, " (catch_all_ref $H{id}_{k})"),
                    };
                }
                out.push('\n');
                self.labels.push(None);
                self.seq(out, body);
                self.labels.pop();
                let _ = writeln!(out, ")\n(br $A{id})");
                for (k, c) in clauses.iter().enumerate() {
                    self.labels.pop();
                    out.push(')');
                    let mut names: Vec<&str> = types[k].clone();
                    if matches!(c.kind, ClauseKind::CatchRef(_) | ClauseKind::CatchAllRef) {
                        *names.last_mut().unwrap() = "ref";
                    }
                    self.handler(out, c.id, &names, &c.action, None);
                    if k + 1 < clauses.len() {
                        let _ = writeln!(out, "(br $A{id})");
                    }
                }
                self.labels.pop();
                writeln!(out, ")")
            }
            Node::Try { id, body, catches } => {
                // The flat form (the text parser no longer knows the
                // folded legacy `try`).
                let _ = writeln!(out, "try $L{id}");
                self.labels.push(Some(*id));
                self.seq(out, body);
                for (tag, hid, action) in catches {
                    match tag {
                        Some(t) => {
                            let _ = write!(out, "catch {}", tag_name(*t));
                            self.handler(out, *hid, tag_types(*t), action, Some(*id));
                        }
                        None => {
                            out.push_str("catch_all");
                            self.handler(out, *hid, &[], action, Some(*id));
                        }
                    }
                }
                self.labels.pop();
                writeln!(out, "end")
            }
            Node::Delegate { body, target } => {
                // The depth is counted outside the `try` itself.
                let depth = if *target == FUNC {
                    self.labels.len()
                } else {
                    self.labels.len()
                        - 1
                        - self
                            .labels
                            .iter()
                            .rposition(|l| *l == Some(*target))
                            .expect("an enclosing target")
                };
                out.push_str("try\n");
                self.labels.push(None);
                self.seq(out, body);
                self.labels.pop();
                writeln!(out, "delegate {depth}")
            }
        };
    }
}

/// The continuation helper `$k{id}`: runs `$f{func}` as a continuation
/// and handles its `suspend`s by `actions`.
fn cont_helper(
    out: &mut String,
    id: u32,
    func: usize,
    first_throw: &Option<Payload>,
    actions: &[ContAction],
) {
    let _ = writeln!(
        out,
        "(func $k{id} (param $a i64) (result i64) (local $k (ref null $ck)) (local $mode i32) (local $n i64) (local $v i64)\n(local.set $k (cont.new $ck (ref.func $f{func})))"
    );
    // Mode 0: resume with $a; mode i + 1: resume_throw action i's
    // exception; mode len + 1: the first throw.
    let first_mode = if first_throw.is_some() {
        actions.len() + 1
    } else {
        0
    };
    let _ = writeln!(
        out,
        "(local.set $mode (i32.const {first_mode}))\n(block $done (result i64) (loop $l\n(block $h (result i64 (ref $ck))"
    );
    out.push_str("(if (i32.eqz (local.get $mode)) (then (br $done (resume $ck (on $y $h) (local.get $a) (local.get $k)))))\n");
    let mut throws: Vec<(usize, String, String)> = actions
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            ContAction::ResumeThrow(p) => Some((
                i + 1,
                format!("resume_throw $ck {}", tag_name(p.tag())),
                payload_code(p),
            )),
            ContAction::ResumeThrowRef(v) => Some((
                i + 1,
                "resume_throw_ref $ck".to_string(),
                format!("(call $mk (i64.const {v}))"),
            )),
            _ => None,
        })
        .collect();
    if let Some(p) = first_throw {
        throws.push((
            first_mode,
            format!("resume_throw $ck {}", tag_name(p.tag())),
            payload_code(p),
        ));
    }
    for (mode, instr, operands) in throws {
        let _ = writeln!(
            out,
            "(if (i32.eq (local.get $mode) (i32.const {mode})) (then (br $done ({instr} (on $y $h) {operands} (local.get $k)))))"
        );
    }
    let _ = writeln!(
        out,
        "unreachable)\n(local.set $k) (local.set $v)\n(local.set $n (i64.add (local.get $n) (i64.const 1)))\n(call $log (i64.const {}) (local.get $v))",
        CONT + i64::from(id)
    );
    let act = |a: &ContAction, i: usize| {
        match a {
        ContAction::Answer => "(local.set $a (i64.add (i64.mul (local.get $v) (i64.const 3)) (local.get $n))) (local.set $mode (i32.const 0)) (br $l)".to_string(),
        ContAction::ResumeThrow(_) | ContAction::ResumeThrowRef(_) => {
            format!("(local.set $mode (i32.const {})) (br $l)", i + 1)
        }
        ContAction::Abandon(r) => format!("(br $done (i64.const {r}))"),
        ContAction::Throw(p) => throw_code(p),
    }
    };
    if actions.is_empty() {
        let _ = writeln!(out, "{}", act(&ContAction::Answer, 0));
    }
    for (i, a) in actions.iter().enumerate() {
        if i + 1 < actions.len() {
            let _ = writeln!(
                out,
                "(if (i64.eq (local.get $n) (i64.const {})) (then {}))",
                i + 1,
                act(a, i)
            );
        } else {
            let _ = writeln!(out, "{}", act(a, i));
        }
    }
    out.push_str(")\nunreachable))\n");
}

/// The host imports written in wasm (see [`emit`]).
fn host_in_module(o: &mut String) {
    let _ = writeln!(
        o,
        "(global $hash (mut i64) (i64.const {}))\n\
         (func (export \"hash\") (result i64) (global.get $hash))\n\
         (func $log (param i64 i64)\n\
           (global.set $hash (i64.mul (i64.xor (i64.mul (i64.xor (global.get $hash) (local.get 0)) (i64.const 1099511628211)) (local.get 1)) (i64.const 1099511628211))))\n\
         (func $hthrow (param i32 i64)\n\
           (if (i32.eqz (local.get 0)) (then (throw $e1 (local.get 1))))\n\
           (if (i32.eq (local.get 0) (i32.const 1)) (then (throw $ht (local.get 1))))\n\
           (throw $hx (local.get 1)))\n\
         (func $hcall (param $f i32) (param $a i64) (param $c i32) (result i64)\n\
           (local $r i64) (local $ti i32) (local $tl i64) (local $tf f32) (local $td f64) (local $te exnref) (local $tx exnref)\n\
           (call $log (i64.add (i64.const {HOST_CALL}) (i64.extend_i32_u (local.get $f))) (local.get $a))\n\
           (if (i32.eqz (local.get $c)) (then\n\
             (local.set $r (call_indirect $tab (type $ft) (local.get $a) (local.get $f)))\n\
             (call $log (i64.add (i64.const {HOST_RET}) (i64.extend_i32_u (local.get $f))) (local.get $r))\n\
             (return (local.get $r))))",
        crate::continuations::hash_log(&[])
    );
    let names = [
        "$e0", "$e1", "$e2", "$e3", "$e4", "$e5", "$e6", "$ht", "$hx", "$ep", "$eq",
    ];
    for t in (0..names.len()).rev() {
        let _ = writeln!(o, "(block $C{t} (result {})", tag_types(t).join(" "));
    }
    o.push_str("(try_table");
    for (t, name) in names.iter().enumerate() {
        let _ = write!(o, " (catch {name} $C{t})");
    }
    let _ = writeln!(
        o,
        "\n  (local.set $r (call_indirect $tab (type $ft) (local.get $a) (local.get $f))))\n\
         (call $log (i64.add (i64.const {HOST_RET}) (i64.extend_i32_u (local.get $f))) (local.get $r))\n\
         (return (local.get $r))"
    );
    for t in 0..names.len() {
        let types = tag_types(t);
        o.push(')');
        for ty in types.iter().rev() {
            let _ = write!(o, " (local.set {})", temp(ty));
        }
        let _ = write!(o, " (call $log (i64.const {HOST_CAUGHT}) (i64.const {t}))");
        for ty in types {
            let _ = write!(
                o,
                " (call $log (i64.const {}) {})",
                HOST_CAUGHT + 1,
                log_temp(ty)
            );
        }
        let _ = writeln!(o, " (return (i64.const {HOST_CAUGHT_RESULT}))");
    }
    o.push_str(")\n");
}

/// The module: with host imports, or (`in_module`) with them written in
/// wasm (`log` folded into the hash the export `hash` returns; `call`
/// calling the function directly and catching with a clause per tag),
/// for a `.wast` regression.
pub fn emit(prog: &Program, in_module: bool) -> String {
    let n = prog.funcs.len();
    let imports = if in_module {
        "(import \"p\" \"t\" (tag $ep (param i32)))\n\
         (import \"p\" \"throw\" (func $pthrow (param i32)))\n\
         (import \"q\" \"throw\" (func $qthrow (param i32)))\n\
         (import \"q\" \"t\" (tag $eq (param i32)))\n\
         (tag $ht (param i64)) (tag $hx (param i64))\n"
    } else {
        "(import \"h\" \"log\" (func $log (param i64 i64)))\n\
         (import \"h\" \"throw\" (func $hthrow (param i32 i64)))\n\
         (import \"h\" \"call\" (func $hcall (param i32 i64 i32) (result i64)))\n\
         (import \"h\" \"tag\" (tag $ht (param i64)))\n\
         (import \"p\" \"t\" (tag $ep (param i32)))\n\
         (import \"p\" \"throw\" (func $pthrow (param i32)))\n\
         (import \"q\" \"throw\" (func $qthrow (param i32)))\n"
    };
    let mut o = format!(
        "(module\n(type $ft (func (param i64) (result i64)))\n(type $ck (cont $ft))\n(type $fv (func))\n{imports}"
    );
    o.push_str(
        "\
         (tag $e0 (export \"e0\") (param i32)) (tag $e1 (export \"e1\") (param i64)) (tag $e2 (export \"e2\") (param f32))\n\
         (tag $e3 (export \"e3\") (param f64)) (tag $e4 (export \"e4\") (param i32 i64)) (tag $e5 (export \"e5\") (param exnref))\n\
         (tag $e6 (export \"e6\")) (tag $y (param i64) (result i64))\n\
         (global $zero (mut i32) (i32.const 0)) (global $stash (mut exnref) (ref.null exn))\n",
    );
    if in_module {
        host_in_module(&mut o);
    }
    let _ = writeln!(
        o,
        "(global $nullslot (mut i32) (i32.const {n})) (global $nopslot (mut i32) (i32.const {}))\n(table $tab {} funcref)",
        n + 1,
        n + 2
    );
    let names: Vec<String> = (0..n).map(|f| format!("$f{f}")).collect();
    let _ = writeln!(
        o,
        "(elem (table $tab) (i32.const 0) func {})\n(elem (table $tab) (i32.const {}) func $nop)",
        names.join(" "),
        n + 1
    );
    let _ = writeln!(o, "(elem declare func {})", names.join(" "));
    o.push_str(
        "(func $nop)\n(func $rec (call $rec))\n\
         (func $mk (param i64) (result exnref) (block $h (result exnref) (try_table (catch_all_ref $h) (throw $e1 (local.get 0))) unreachable))\n\
         (func $down (param $d i32) (param $a i64) (param $f i32) (result i64)\n\
           (if (result i64) (i32.eqz (local.get $d)) (then (call_indirect $tab (type $ft) (local.get $a) (local.get $f)))\n\
             (else (call $down (i32.sub (local.get $d) (i32.const 1)) (local.get $a) (local.get $f)))))\n",
    );
    let mut e = Emitter {
        labels: Vec::new(),
        conts: Vec::new(),
    };
    for (f, body) in prog.funcs.iter().enumerate() {
        let _ = writeln!(
            o,
            "(func $f{f} (export \"f{f}\") (type $ft) (local $ti i32) (local $tl i64) (local $tf f32) (local $td f64) (local $te exnref) (local $tx exnref)"
        );
        e.labels.clear();
        e.seq(&mut o, body);
        o.push_str("(local.get 0))\n");
    }
    for (id, func, first, actions) in std::mem::take(&mut e.conts) {
        cont_helper(&mut o, id, func, &first, &actions);
    }
    o.push_str(")\n");
    o
}

// ---- running in weft ----------------------------------------------------------

struct Data {
    log: Log,
    /// The tags a caught or uncaught exception is identified by, in tag-id
    /// order (the module's seven, the two host tags, the peers').
    tags: Vec<weft::Tag>,
}

fn logged(v: &weft::Val) -> i64 {
    match v {
        weft::Val::I32(x) => i64::from(*x),
        weft::Val::I64(x) => *x,
        weft::Val::F32(b) => i64::from(*b),
        weft::Val::F64(b) => *b as i64,
        weft::Val::ExnRef(e) => i64::from(e.is_some()),
        _ => i64::MIN,
    }
}

/// An exception's tag id and payload as logged (tag `-1`: unknown).
fn describe_exn(
    store: &mut impl weft::AsContextMut<Data = Data>,
    exn: weft::ExnRef,
) -> (usize, Vec<i64>) {
    let tag = exn.tag(&mut *store);
    let t = store
        .as_context_mut()
        .data()
        .tags
        .iter()
        .position(|x| *x == tag)
        .unwrap_or(usize::MAX);
    let vals = exn.payload(&mut *store).iter().map(logged).collect();
    (t, vals)
}

fn weft_outcome(store: &mut weft::Store<Data>, r: weft::Result<i64>) -> Outcome {
    use weft::Trap as T;
    match r {
        Ok(v) => Outcome::Returned(v),
        Err(e) => {
            if let Some(x) = e.downcast_ref::<weft::Exception>() {
                let (t, vals) = describe_exn(store, x.exn());
                return Outcome::Uncaught(t, vals);
            }
            Outcome::Trapped(match e.downcast_ref::<T>() {
                Some(T::UnreachableCodeReached) => TrapKind::Unreachable.message().into(),
                Some(T::IntegerDivisionByZero) => TrapKind::DivideByZero.message().into(),
                Some(T::StackOverflow) => TrapKind::StackOverflow.message().into(),
                Some(T::NullReference) => TrapKind::NullReference.message().into(),
                Some(T::IndirectCallToNull) => TrapKind::IndirectNull.message().into(),
                Some(T::BadSignature) => TrapKind::BadSignature.message().into(),
                Some(T::UnhandledTag) => TrapKind::UnhandledTag.message().into(),
                Some(other) => format!("other trap {other:?}"),
                None => format!("error {e:#}"),
            })
        }
    }
}

/// Runs every export in order in one store; the first difference from
/// `want`, if any.
pub fn check(
    engine: &weft::Engine,
    async_calls: bool,
    prog: &Program,
    want: &[(Outcome, Log)],
) -> Option<String> {
    match run_weft(engine, async_calls, prog) {
        Err(e) => Some(e),
        Ok(got) => {
            for (f, (g, w)) in got.iter().zip(want).enumerate() {
                if g != w {
                    return Some(describe(f, g, w));
                }
            }
            None
        }
    }
}

fn describe(f: usize, got: &(Outcome, Log), want: &(Outcome, Log)) -> String {
    let mut s = format!("call f{f}: weft {:?}, model {:?}", got.0, want.0);
    if got.1 != want.1 {
        let i = got
            .1
            .iter()
            .zip(&want.1)
            .position(|(a, b)| a != b)
            .unwrap_or(got.1.len().min(want.1.len()));
        let _ = write!(
            s,
            "; logs differ at entry {i} (weft {} entries, model {}): weft {:?}, model {:?}",
            got.1.len(),
            want.1.len(),
            got.1.get(i),
            want.1.get(i)
        );
    }
    s
}

/// The host import `throw(sel, v)`.
fn host_throw(c: &mut weft::Caller<'_, Data>, sel: i32, v: i64) -> weft::Result<()> {
    let tag = c.data().tags[[1, T_HOST, T_HOSTX][sel as usize]];
    let exn = weft::ExnRef::new(&mut *c, tag, &[weft::Val::I64(v)])?;
    Err(weft::Exception::new(exn).into())
}

/// The end of the host import `call(f, a, catch)`, given what the export
/// call returned: log it, or catch the exception (`catch`), or pass on
/// the error.
fn host_call_done(
    c: &mut weft::Caller<'_, Data>,
    f: i32,
    catch: i32,
    r: weft::Result<i64>,
) -> weft::Result<i64> {
    match r {
        Ok(x) => {
            c.data_mut().log.push((HOST_RET + i64::from(f), x));
            Ok(x)
        }
        Err(e) if catch != 0 && e.downcast_ref::<weft::Exception>().is_some() => {
            let exn = e.downcast_ref::<weft::Exception>().unwrap().exn();
            let (t, vals) = describe_exn(&mut *c, exn);
            exn.unroot(&mut *c);
            let log = &mut c.data_mut().log;
            log.push((HOST_CAUGHT, t as i64));
            for v in vals {
                log.push((HOST_CAUGHT + 1, v));
            }
            Ok(HOST_CAUGHT_RESULT)
        }
        Err(e) => Err(e),
    }
}

fn run_weft(
    engine: &weft::Engine,
    async_calls: bool,
    prog: &Program,
) -> Result<Vec<(Outcome, Log)>, String> {
    let text = emit(prog, false);
    let module =
        weft::Module::new(engine, &text).map_err(|e| format!("weft rejects the module: {e:#}"))?;
    let peer = weft::Module::new(engine, PEER).map_err(|e| format!("peer: {e:#}"))?;
    let mut store = weft::Store::new(
        engine,
        Data {
            log: Vec::new(),
            tags: Vec::new(),
        },
    );
    let i64_tag = weft::FuncType::new([weft::ValType::I64], []);
    let ht = weft::Tag::new(&mut store, &i64_tag);
    let hx = weft::Tag::new(&mut store, &i64_tag);
    let mut linker = weft::Linker::new(engine);
    let (p, q) = if async_calls {
        (
            block_on(linker.instantiate_async(&mut store, &peer)),
            block_on(linker.instantiate_async(&mut store, &peer)),
        )
    } else {
        (
            linker.instantiate(&mut store, &peer),
            linker.instantiate(&mut store, &peer),
        )
    };
    let (p, q) = (
        p.map_err(|e| format!("{e:#}"))?,
        q.map_err(|e| format!("{e:#}"))?,
    );
    let pt = p.get_tag(&mut store, "t").expect("p.t");
    let qt = q.get_tag(&mut store, "t").expect("q.t");
    let err = |e: weft::Error| format!("{e:#}");
    linker.instance(&mut store, "p", p).map_err(err)?;
    linker.instance(&mut store, "q", q).map_err(err)?;
    linker.define("h", "tag", ht).map_err(err)?;
    linker
        .func_wrap(
            "h",
            "log",
            |mut c: weft::Caller<'_, Data>, code: i64, v: i64| {
                c.data_mut().log.push((code, v));
            },
        )
        .map_err(err)?;
    if async_calls {
        // Each pending once before it acts; `call` calls the export with
        // `call_async`.
        linker
            .func_wrap_async(
                "h",
                "throw",
                |mut c: weft::Caller<'_, Data>, (sel, v): (i32, i64)| {
                    Box::new(async move {
                        YieldOnce(false).await;
                        host_throw(&mut c, sel, v)
                    })
                },
            )
            .map_err(err)?;
        linker
            .func_wrap_async(
                "h",
                "call",
                |mut c: weft::Caller<'_, Data>, (f, a, catch): (i32, i64, i32)| {
                    Box::new(async move {
                        c.data_mut().log.push((HOST_CALL + i64::from(f), a));
                        YieldOnce(false).await;
                        let func = c
                            .get_export(&format!("f{f}"))
                            .and_then(|e| e.into_func())
                            .expect("export");
                        let func = func.typed::<i64, i64>(&c)?;
                        let r = func.call_async(&mut c, a).await;
                        host_call_done(&mut c, f, catch, r)
                    })
                },
            )
            .map_err(err)?;
    } else {
        linker
            .func_wrap(
                "h",
                "throw",
                |mut c: weft::Caller<'_, Data>, sel: i32, v: i64| -> weft::Result<()> {
                    host_throw(&mut c, sel, v)
                },
            )
            .map_err(err)?;
        linker
            .func_wrap(
                "h",
                "call",
                |mut c: weft::Caller<'_, Data>, f: i32, a: i64, catch: i32| -> weft::Result<i64> {
                    c.data_mut().log.push((HOST_CALL + i64::from(f), a));
                    let func = c
                        .get_export(&format!("f{f}"))
                        .and_then(|e| e.into_func())
                        .expect("export");
                    let func = func.typed::<i64, i64>(&c)?;
                    let r = func.call(&mut c, a);
                    host_call_done(&mut c, f, catch, r)
                },
            )
            .map_err(err)?;
    }
    let instance = if async_calls {
        block_on(linker.instantiate_async(&mut store, &module))
    } else {
        linker.instantiate(&mut store, &module)
    }
    .map_err(|e| format!("weft cannot instantiate: {e:#}"))?;
    let mut tags: Vec<weft::Tag> = (0..LOCAL_TAGS)
        .map(|t| instance.get_tag(&mut store, &format!("e{t}")).expect("tag"))
        .collect();
    tags.extend([ht, hx, pt, qt]);
    store.data_mut().tags = tags;
    let mut out = Vec::new();
    for (f, arg) in prog.args.iter().enumerate() {
        let func = instance
            .get_typed_func::<i64, i64>(&mut store, &format!("f{f}"))
            .map_err(err)?;
        let r = if async_calls {
            block_on(func.call_async(&mut store, *arg))
        } else {
            func.call(&mut store, *arg)
        };
        let outcome = weft_outcome(&mut store, r);
        out.push((outcome, std::mem::take(&mut store.data_mut().log)));
    }
    Ok(out)
}

// ---- shrinking and regression files --------------------------------------------

/// Smaller variants of `p`: a node removed, a nested body hoisted.
fn shrink_candidates(p: &Program) -> Vec<Program> {
    fn variants(nodes: &[Node]) -> Vec<Vec<Node>> {
        let mut out = Vec::new();
        for i in 0..nodes.len() {
            let mut v = nodes.to_vec();
            v.remove(i);
            out.push(v);
            let inner: Option<&Vec<Node>> = match &nodes[i] {
                Node::Block { body, .. }
                | Node::TryTable { body, .. }
                | Node::Try { body, .. }
                | Node::Delegate { body, .. } => Some(body),
                _ => None,
            };
            if let Some(body) = inner {
                for b in variants(body) {
                    let mut v = nodes.to_vec();
                    match &mut v[i] {
                        Node::Block { body, .. }
                        | Node::TryTable { body, .. }
                        | Node::Try { body, .. }
                        | Node::Delegate { body, .. } => *body = b,
                        _ => unreachable!(),
                    }
                    out.push(v);
                }
            }
        }
        out
    }
    let mut out = Vec::new();
    for f in 0..p.funcs.len() {
        for v in variants(&p.funcs[f]) {
            let mut q = p.clone();
            q.funcs[f] = v;
            out.push(q);
        }
    }
    out
}

pub fn shrink(engine: &weft::Engine, async_calls: bool, p: Program) -> Program {
    crate::shrink::greedy(p, shrink_candidates, |q| {
        check(engine, async_calls, q, &model(q)).is_some()
    })
}

/// A regression file: the module (it imports host functions, so it is not
/// a `.wast` script) with the model's outcomes.
pub fn report(p: &Program, seed: u64, index: u64, why: &str) -> String {
    let mut s = format!(
        ";; Found by the exception fuzzer (fuzz/src/exceptions.rs): weft-fuzz --exceptions --seed {seed} --case {index}\n;; {}\n;; Expected (the model), per export call f0, f1, ... with the arguments {:?}:\n",
        why.replace('\n', " "),
        p.args
    );
    for (f, (o, log)) in model(p).iter().enumerate() {
        let _ = writeln!(s, ";;   f{f}: {o:?}, log {log:?}");
    }
    let _ = writeln!(
        s,
        ";; peer module (instances p and q):\n;; {}",
        PEER.replace('\n', "\n;; ")
    );
    s.push_str(&emit(p, false));
    s
}

/// A `.wast` regression: the in-module variant (see [`emit`]) with the
/// model's outcomes and the hash of the log after each call; `None` where
/// a `suspend` stops at a host frame (which the in-module variant lacks).
pub fn wast(p: &Program, seed: u64, index: u64, why: &str) -> Option<String> {
    let (calls, crossed) = model_crossed(p);
    if crossed {
        return None;
    }
    let mut s = format!(
        ";; Found by the exception fuzzer (fuzz/src/exceptions.rs): weft-fuzz --exceptions --seed {seed} --case {index}\n;; {}\n;; Expected behaviour from the model, after shrinking; the host functions\n;; written in wasm, the log folded into `hash`.\n",
        why.replace('\n', " ")
    );
    let _ = write!(
        s,
        "(module $p {}(register \"p\" $p)\n(module $q {}(register \"q\" $q)\n",
        &PEER[8..],
        &PEER[8..]
    );
    s.push_str(&emit(p, true));
    let mut all = Vec::new();
    for (f, (outcome, log)) in calls.iter().enumerate() {
        let invoke = format!("(invoke \"f{f}\" (i64.const {}))", p.args[f]);
        let _ = match outcome {
            Outcome::Returned(v) => writeln!(s, "(assert_return {invoke} (i64.const {v}))"),
            Outcome::Trapped(t) if t == TrapKind::UnhandledTag.message() => {
                writeln!(s, "(assert_suspension {invoke} \"{t}\")")
            }
            Outcome::Trapped(t) => writeln!(s, "(assert_trap {invoke} \"{t}\")"),
            Outcome::Uncaught(..) => writeln!(s, "(assert_exception {invoke})"),
        };
        all.extend_from_slice(log);
        let _ = writeln!(
            s,
            "(assert_return (invoke \"hash\") (i64.const {}))",
            crate::continuations::hash_log(&all)
        );
    }
    Some(s)
}

/// The engine configurations; case `i` runs under `ENGINES[i % 4]`.
const ENGINES: [&str; 4] = [
    "default",
    "cranelift_opt_level(None)",
    "continuation_stack_size(32 KiB), continuation_red_zone(8 KiB)",
    "async_support, calls with call_async, async host functions throw and call",
];
const ASYNC: usize = 3;

fn engines() -> Vec<weft::Engine> {
    (0..ENGINES.len())
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
                ASYNC => {
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
    let (uncaught, returned, events) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let traps = Mutex::new(std::collections::BTreeMap::<String, u64>::new());
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            let worker = std::thread::Builder::new().stack_size(64 << 20);
            worker
                .spawn_scoped(s, || {
                    let engines = engines();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= from + cases {
                            break;
                        }
                        let p = generate(seed, i);
                        let want = model(&p);
                        if std::env::var_os("WEFT_FUZZ_SHOW").is_some() {
                            eprintln!("{}", report(&p, seed, i, "WEFT_FUZZ_SHOW"));
                        }
                        let k = (i % ENGINES.len() as u64) as usize;
                        let engine = &engines[k];
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            check(engine, k == ASYNC, &p, &want)
                        }))
                        .unwrap_or_else(|_| Some("panic".into()));
                        match r {
                            None => {
                                passed.fetch_add(1, Ordering::Relaxed);
                                for (o, log) in &want {
                                    uncaught.fetch_add(
                                        u64::from(matches!(o, Outcome::Uncaught(..))),
                                        Ordering::Relaxed,
                                    );
                                    returned.fetch_add(
                                        u64::from(matches!(o, Outcome::Returned(_))),
                                        Ordering::Relaxed,
                                    );
                                    if let Outcome::Trapped(t) = o {
                                        *traps.lock().unwrap().entry(t.clone()).or_default() += 1;
                                    }
                                    events.fetch_add(log.len() as u64, Ordering::Relaxed);
                                }
                            }
                            Some(why) => {
                                eprintln!("FAILED exception case {i} (seed {seed}): {why}");
                                let small = shrink(engine, k == ASYNC, p);
                                let want2 = model(&small);
                                let why2 = check(engine, k == ASYNC, &small, &want2).unwrap_or(why);
                                let why2 = format!("engine config {}: {why2}", ENGINES[k]);
                                let (path, text) = match wast(&small, seed, i, &why2) {
                                    Some(w) => (out.join(format!("exn-{seed}-{i}.wast")), w),
                                    None => (
                                        out.join(format!("exn-{seed}-{i}.txt")),
                                        report(&small, seed, i, &why2),
                                    ),
                                };
                                let _ = std::fs::create_dir_all(out);
                                match std::fs::write(&path, text) {
                                    Ok(()) => eprintln!("  wrote {}: {why2}", path.display()),
                                    Err(e) => {
                                        eprintln!("  could not write {}: {e}", path.display())
                                    }
                                }
                                failed.lock().unwrap().push(i);
                            }
                        }
                        let done = i + 1 - from;
                        if !quiet && done.is_multiple_of(5_000) {
                            eprintln!(
                                "{done}/{cases} exception cases, {:.0}/s",
                                done as f64 / start.elapsed().as_secs_f64()
                            );
                        }
                    }
                })
                .expect("spawn a fuzzing thread");
        }
    });
    let (p, f) = (
        passed.load(Ordering::Relaxed),
        failed.lock().unwrap().len() as u64,
    );
    println!(
        "exceptions: {p} passed, {f} failed ({cases} cases of seed {seed} in {:.1} s; passing cases' export calls: {} returned, {} uncaught exceptions, traps {:?}; {} log entries)",
        start.elapsed().as_secs_f64(),
        returned.load(Ordering::Relaxed),
        uncaught.load(Ordering::Relaxed),
        traps.lock().unwrap(),
        events.load(Ordering::Relaxed)
    );
    (p, f)
}
