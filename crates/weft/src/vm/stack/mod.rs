//! Stacks that run wasm: their records, the activations on them, and the
//! one frame walker that follows both.

mod record;
mod walk;

pub(crate) use record::{Activation, ResumePoint, VMStackRecord, load_word};
pub(crate) use walk::{Frame, Start, walk, walk_stretch};
