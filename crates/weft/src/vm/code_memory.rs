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
//! Code loaded from a precompiled artifact file is not copied: the
//! artifact is mapped privately ([`CodeMemory::in_file_mapping`]) and its
//! page-aligned code section, laid out exactly as it runs, becomes the
//! region. It starts read-only; writing (load-time relocations) makes it
//! read+write first, which copies only the pages written, and `publish`
//! switches it to read+execute in place.
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
    /// Page-aligned offset of the code in `mmap`.
    offset: usize,
    /// Requested length (the mapping is rounded up to whole pages).
    len: usize,
    state: State,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Read-only (a file mapping not yet written).
    ReadOnly,
    /// Read+write: code is being copied in or patched.
    Writable,
    /// Read+execute.
    Published,
}

impl CodeMemory {
    /// Maps a zeroed, writable region of at least `len` bytes.
    pub(crate) fn new(len: usize) -> Result<CodeMemory> {
        let mmap = Mmap::accessible(len)
            .with_context(|| format!("failed to allocate {len} bytes of code memory"))?;
        Ok(CodeMemory {
            mmap,
            offset: 0,
            len,
            state: State::Writable,
        })
    }

    /// The code at `[offset, offset + len)` of `mmap`, a read-only private
    /// file mapping ([`Mmap::map_file`]), used in place. `offset` must be
    /// page aligned and the range inside the mapping.
    pub(crate) fn in_file_mapping(mmap: Mmap, offset: usize, len: usize) -> Result<CodeMemory> {
        let in_range = offset
            .checked_add(len)
            .and_then(weft_sys::round_up_to_page)
            .is_some_and(|end| end <= mmap.len());
        if !offset.is_multiple_of(weft_sys::page_size()) || !in_range {
            anyhow::bail!(
                "code range {offset:#x}+{len:#x} is not a page-aligned part of the mapping"
            );
        }
        Ok(CodeMemory {
            mmap,
            offset,
            len,
            state: State::ReadOnly,
        })
    }

    /// The code bytes, for copying code in and patching relocations.
    ///
    /// # Panics
    ///
    /// After [`CodeMemory::publish`]: published code is never writable.
    /// The code of a file mapping becomes read+write on the first call
    /// (an error if the kernel refuses).
    pub(crate) fn as_mut_slice(&mut self) -> Result<&mut [u8]> {
        assert!(
            self.state != State::Published,
            "code memory is published (read+execute) and can no longer be written"
        );
        if self.len == 0 {
            return Ok(&mut []);
        }
        if self.state == State::ReadOnly {
            self.mmap
                .make_accessible(self.offset, self.len)
                .context("failed to make loaded code writable")?;
            self.state = State::Writable;
        }
        // SAFETY: `[offset, offset + len)` lies in the mapping (checked at
        // construction) and is read-write until publish (the state above),
        // owned by `self`, and borrowed mutably for the lifetime of
        // `&mut self`.
        Ok(
            unsafe {
                std::slice::from_raw_parts_mut(self.mmap.as_ptr().add(self.offset), self.len)
            },
        )
    }

    /// Switches the whole region to read+execute. Idempotent.
    pub(crate) fn publish(&mut self) -> Result<()> {
        if self.state == State::Published {
            return Ok(());
        }
        self.mmap
            .make_executable(self.offset, self.len)
            .context("failed to publish code memory")?;
        self.state = State::Published;
        Ok(())
    }

    /// Whether [`CodeMemory::publish`] has run.
    #[cfg(test)]
    pub(crate) fn is_published(&self) -> bool {
        self.state == State::Published
    }

    /// The code bytes (readable in both states).
    pub(crate) fn as_slice(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `[offset, offset + len)` lies in the mapping and is
        // always readable (RO or RW before publish, RX after); writes need
        // `&mut self`, which cannot coexist with the returned borrow.
        unsafe { std::slice::from_raw_parts(self.mmap.as_ptr().add(self.offset), self.len) }
    }

    /// Address of the first code byte.
    pub(crate) fn base(&self) -> usize {
        self.mmap.as_ptr() as usize + self.offset
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
        cm.as_mut_slice().unwrap().copy_from_slice(&code);
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
        cm.as_mut_slice().unwrap()[0] = 0xc3;
    }

    #[test]
    fn empty_code_memory() {
        let mut cm = CodeMemory::new(0).unwrap();
        assert!(cm.as_mut_slice().unwrap().is_empty());
        cm.publish().unwrap();
        assert!(cm.as_slice().is_empty());
    }
}
