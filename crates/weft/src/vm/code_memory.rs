//! Memory for generated machine code, with write-xor-execute.
//!
//! A [`CodeMemory`] lives in two states and moves from the first to the
//! second exactly once:
//!
//! ```text
//!   CodeMemory::new(len)                     publish()
//!   ------------------------------------     -------------------------------
//!   base                     base + len      base                base + len
//!   |                                |       |                            |
//!   v                                v       v                            v
//!   +--------------------------+-----+       +------------------------+---+
//!   | PROT_READ|PROT_WRITE     | pad |  ==>  | PROT_READ|PROT_EXEC    |pad|
//!   | copy code, patch relocs  |     |       | callable; as_mut_slice |   |
//!   | via as_mut_slice()       |     |       | panics from now on     |   |
//!   +--------------------------+-----+       +------------------------+---+
//!                               ^
//!                               `- up to the next page boundary; part of
//!                                  the mapping but not of the slices
//! ```
//!
//! The region is never writable and executable at the same time. On x86_64
//! the instruction cache is coherent with data writes, so no explicit cache
//! flush is needed after `publish`; a port to another architecture must add
//! one there (e.g. `__clear_cache` on aarch64).

use anyhow::{Context, Result};
use weft_sys::Mmap;

/// A region of machine code, writable until published, then executable.
pub(crate) struct CodeMemory {
    mmap: Mmap,
    /// Requested length (the mapping is rounded up to whole pages).
    len: usize,
    published: bool,
}

impl CodeMemory {
    /// Maps a zeroed, writable region of at least `len` bytes.
    pub(crate) fn new(len: usize) -> Result<CodeMemory> {
        let mmap = Mmap::accessible(len)
            .with_context(|| format!("failed to allocate {len} bytes of code memory"))?;
        Ok(CodeMemory {
            mmap,
            len,
            published: false,
        })
    }

    /// The code bytes, for copying code in and patching relocations.
    ///
    /// # Panics
    ///
    /// After [`CodeMemory::publish`]: published code is never writable.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        assert!(
            !self.published,
            "code memory is published (read+execute) and can no longer be written"
        );
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: the first `len` bytes of the mapping are read-write until
        // publish (checked above), owned by `self`, and borrowed mutably
        // for the lifetime of `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.mmap.as_ptr(), self.len) }
    }

    /// Switches the whole region to read+execute. Idempotent.
    pub(crate) fn publish(&mut self) -> Result<()> {
        if self.published {
            return Ok(());
        }
        let full = self.mmap.len();
        self.mmap
            .make_executable(0, full)
            .context("failed to publish code memory")?;
        self.published = true;
        Ok(())
    }

    /// Whether [`CodeMemory::publish`] has run.
    #[cfg(test)]
    pub(crate) fn is_published(&self) -> bool {
        self.published
    }

    /// The code bytes (readable in both states).
    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the first `len` bytes are always readable (RW before
        // publish, RX after); writes need `&mut self`, which cannot coexist
        // with the returned borrow.
        unsafe { std::slice::from_raw_parts(self.mmap.as_ptr(), self.len) }
    }

    /// Address of the first code byte.
    pub(crate) fn base(&self) -> usize {
        self.mmap.as_ptr() as usize
    }

    /// `[base, base + len)` as a pair, the form the code registry wants.
    #[cfg(test)]
    pub(crate) fn range(&self) -> (usize, usize) {
        (self.base(), self.base() + self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn publish_and_call() {
        // mov eax, 42 ; ret
        let code = [0xb8, 42, 0, 0, 0, 0xc3];
        let mut cm = CodeMemory::new(code.len()).unwrap();
        cm.as_mut_slice().copy_from_slice(&code);
        cm.publish().unwrap();
        assert!(cm.is_published());
        assert_eq!(cm.as_slice(), &code);
        // SAFETY: the region holds a complete function with the C ABI
        // `fn() -> u32` and is executable.
        let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(cm.base()) };
        assert_eq!(f(), 42);
        let (start, end) = cm.range();
        assert_eq!(end - start, code.len());
    }

    #[test]
    #[should_panic(expected = "can no longer be written")]
    fn writes_after_publish_panic() {
        let mut cm = CodeMemory::new(16).unwrap();
        cm.publish().unwrap();
        cm.as_mut_slice()[0] = 0xc3;
    }

    #[test]
    fn empty_code_memory() {
        let mut cm = CodeMemory::new(0).unwrap();
        assert!(cm.as_mut_slice().is_empty());
        cm.publish().unwrap();
        assert!(cm.as_slice().is_empty());
    }
}
