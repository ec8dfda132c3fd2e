//! Linear memories.
//!
//! Every memory reserves its whole virtual range when it is created, so its
//! base address never moves and generated code may keep it in a register.
//!
//! ```text
//! 32-bit memory, pages >= 4 KiB (no bounds checks in generated code):
//!
//!   base                        base+len        base+4GiB           base+8GiB
//!   |<---- read/write ---------->|<------ PROT_NONE: traps ------------->|
//!   any i32 address + any u32 offset + access size stays below base+8GiB,
//!   so an out-of-bounds access always faults inside the reservation.
//!
//! memory64, or pages smaller than the OS page (explicit bounds checks):
//!
//!   base                        base+len            base+reservation
//!   |<---- read/write ---------->|<--- PROT_NONE --->|
//!   generated code compares address+offset+size with current_length.
//! ```

use super::vmcontext::VMMemoryDefinition;
use crate::Result;
use crate::types::MemoryType;
use anyhow::{anyhow, bail};
use weft_sys::Mmap;

/// Virtual reservation of a 32-bit memory with guard-page bounds checks.
const GUARDED_RESERVATION: u64 = 8 << 30;
/// Largest reservation for memories with explicit bounds checks; growing
/// past it fails (memory.grow returns -1).
const CHECKED_RESERVATION_MAX: u64 = 8 << 30;
const OS_PAGE: u64 = 4096;

/// A linear memory owned by a store.
pub(crate) struct LinearMemory {
    mmap: Mmap,
    /// Record read by generated code; boxed so its address is stable.
    pub(crate) def: Box<VMMemoryDefinition>,
    pub(crate) ty: MemoryType,
    /// Largest size in bytes this memory may reach.
    max_bytes: u64,
    /// Bytes currently readable and writable (OS-page rounded).
    accessible: u64,
}

impl LinearMemory {
    pub(crate) fn new(ty: MemoryType) -> Result<LinearMemory> {
        if ty.shared {
            bail!("shared memories (threads proposal) are not supported");
        }
        let page = ty.page_size();
        let index_max_bytes: u64 = if ty.memory64 { u64::MAX } else { 1 << 32 };
        let declared_max_bytes = match ty.max {
            Some(max) => max.saturating_mul(page).min(index_max_bytes),
            None => index_max_bytes,
        };
        let guarded = !ty.memory64 && ty.page_size_log2 >= 12;
        let reservation = if guarded {
            GUARDED_RESERVATION
        } else {
            declared_max_bytes
                .min(CHECKED_RESERVATION_MAX)
                .next_multiple_of(OS_PAGE)
                .max(OS_PAGE)
        };
        let max_bytes = declared_max_bytes.min(if guarded { 1 << 32 } else { reservation });
        let min_bytes = ty
            .min
            .checked_mul(page)
            .filter(|b| *b <= max_bytes)
            .ok_or_else(|| {
                anyhow!(
                    "memory minimum size of {} pages exceeds the memory limits",
                    ty.min
                )
            })?;
        let mmap = Mmap::reserve(reservation as usize)?;
        let mut mem = LinearMemory {
            def: Box::new(VMMemoryDefinition {
                base: mmap.as_ptr(),
                current_length: 0,
            }),
            mmap,
            ty,
            max_bytes,
            accessible: 0,
        };
        mem.set_len(min_bytes)?;
        Ok(mem)
    }

    fn set_len(&mut self, bytes: u64) -> Result<()> {
        let need = bytes.next_multiple_of(OS_PAGE);
        if need > self.accessible {
            self.mmap
                .make_accessible(self.accessible as usize, (need - self.accessible) as usize)?;
            self.accessible = need;
        }
        self.def.current_length = bytes as usize;
        Ok(())
    }

    /// Replaces the memory's first `image.len()` bytes with a copy-on-write
    /// mapping of `image`. They must lie within the current size.
    pub(crate) fn map_image(&mut self, image: &super::memory_image::MemoryImage) -> Result<()> {
        if image.len() as u64 > self.accessible {
            bail!("memory image larger than the memory");
        }
        // SAFETY: the range is the start of this memory's own reservation,
        // read/write (`accessible`), and `&mut self` means no references
        // into it are alive.
        unsafe { image.map_at(self.def.base) }
    }

    /// Current size in pages.
    pub(crate) fn pages(&self) -> u64 {
        self.def.current_length as u64 >> self.ty.page_size_log2
    }

    /// Grows by `delta` pages. Returns the old size in pages, or `None`
    /// when the memory cannot grow that far (which is not a trap).
    #[cfg(test)]
    pub(crate) fn grow(&mut self, delta: u64) -> Option<u64> {
        self.try_grow(delta).ok()
    }

    /// As [`LinearMemory::grow`], saying why the growth failed.
    pub(crate) fn try_grow(&mut self, delta: u64) -> Result<u64> {
        let old = self.pages();
        let new_bytes = old
            .checked_add(delta)
            .and_then(|p| p.checked_mul(self.ty.page_size()))
            .filter(|b| *b <= self.max_bytes)
            .ok_or_else(|| {
                anyhow!(
                    "memory of {old} pages cannot grow by {delta} pages: \
                     its maximum is {} bytes",
                    self.max_bytes
                )
            })?;
        self.set_len(new_bytes)?;
        Ok(old)
    }

    /// The memory's bytes.
    pub(crate) fn data(&self) -> &[u8] {
        // SAFETY: the first `current_length` bytes of the reservation are
        // mapped read/write and owned by this memory.
        unsafe { std::slice::from_raw_parts(self.def.base, self.def.current_length) }
    }

    /// The memory's bytes, mutably.
    #[inline]
    pub(crate) fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`, and `&mut self` gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.def.base, self.def.current_length) }
    }

    /// The type with the current size as minimum.
    pub(crate) fn current_ty(&self) -> MemoryType {
        MemoryType {
            min: self.pages(),
            ..self.ty
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_within_max_and_zero_fills() {
        let mut m = LinearMemory::new(MemoryType::new(1, Some(3))).unwrap();
        assert_eq!(m.data().len(), 65536);
        m.data_mut()[65535] = 7;
        assert_eq!(m.grow(2), Some(1));
        assert_eq!(m.pages(), 3);
        assert_eq!(m.data()[65535], 7);
        assert_eq!(m.data()[3 * 65536 - 1], 0);
        assert_eq!(m.grow(1), None);
        assert_eq!(m.pages(), 3);
    }

    #[test]
    fn small_pages_have_exact_lengths() {
        let ty = MemoryType {
            page_size_log2: 0,
            ..MemoryType::new(3, Some(10))
        };
        let mut m = LinearMemory::new(ty).unwrap();
        assert_eq!(m.data().len(), 3);
        assert_eq!(m.grow(7), Some(3));
        assert_eq!(m.grow(1), None);
    }

    #[test]
    fn too_large_minimum_is_an_error() {
        let err = LinearMemory::new(MemoryType::new(70000, None))
            .err()
            .unwrap();
        assert!(err.to_string().contains("exceeds"), "{err}");
    }
}
