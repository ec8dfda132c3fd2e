//! Operating-system and architecture specifics for weft, behind one small
//! interface shared by the runtime (`weft`) and the fiber crate
//! (`weft-fiber`):
//!
//! * [`mmap`]: page-granular virtual memory (the one mmap wrapper, the one
//!   [`page_size`]);
//! * [`signals`]: installing the trap signal handlers and forwarding
//!   signals that are not the runtime's;
//! * [`altstack`]: per-thread alternate signal stacks;
//! * [`thread_stack`]: the calling thread's stack bounds;
//! * [`ucontext`]: reading and rewriting an interrupted thread's registers.
//!
//! Only Linux is implemented (x86_64 for the register access); a port adds
//! its own versions of these modules. This crate must not depend on any
//! other weft crate, and holds no policy: which signals are traps, which
//! stacks exist and what a trap does are the runtime's decisions.

pub mod altstack;
pub mod mmap;
pub mod signals;
pub mod thread_stack;
pub mod ucontext;

pub use mmap::{Mmap, page_size, round_up_to_page};
