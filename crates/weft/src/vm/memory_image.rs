//! Memory images: a module's data segments laid out once in an anonymous
//! in-memory file (memfd), then mapped copy-on-write over the start of each
//! new instance's linear memory instead of copying the bytes.
//!
//! ```text
//! memfd (per module, built on its second instantiation, shared by all stores)
//!   0            len (OS-page multiple)
//!   | segment bytes at their offsets, zeros between |
//!
//! instance memory reservation
//!   base                     base+len          base+current_length
//!   |<- MAP_PRIVATE|MAP_FIXED ->|<- anonymous read/write ->|<- PROT_NONE ...
//!       pages are shared with the memfd until the instance writes them
//! ```
//!
//! A module loaded from a precompiled artifact file carries its images in
//! the file (a page-aligned section laid out like the memfd, see
//! `crate::artifact`): they are mapped straight from the artifact, also on
//! the first instantiation, and no memfd is built.
//!
//! A module gets images only when initialisation with them is exactly
//! initialisation by copying: every active data segment of the module has
//! an `i32.const` offset, targets a 32-bit memory with 64 KiB pages that
//! the module defines, and fits in that memory's initial size. Then the
//! data phase of instantiation cannot trap, so mapping every image at its
//! start is the same as writing the segments in order. Anything else
//! (global-based offsets, imported memories, a segment that traps, tiny
//! amounts of data where the syscalls cost more than the copy) falls back
//! to copying.

use crate::Result;
use anyhow::{Context, bail};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use weft_environ::{ConstOp, ModuleInfo, SegmentMode};

const OS_PAGE: u64 = 4096;

/// Below this many bytes of data in total, copying is cheaper than the
/// memfd and mmap system calls.
pub(crate) const MIN_IMAGE_DATA: usize = 16 << 10;

/// The initial contents of one linear memory, in a memfd or a section of
/// a precompiled artifact file.
pub(crate) struct MemoryImage {
    file: Arc<File>,
    /// Page-aligned offset of the image in `file`.
    offset: u64,
    /// Mapped length: the end of the last segment, rounded up to a page.
    len: usize,
}

impl MemoryImage {
    /// An image holding `segments` (offset, bytes), each ending at or
    /// before `len`.
    fn new(len: u64, segments: &[(u64, &[u8])]) -> Result<MemoryImage> {
        // SAFETY: the name is a valid NUL-terminated string; the flags are
        // valid for memfd_create.
        let fd = unsafe { libc::memfd_create(c"weft-memory-image".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("memfd_create failed");
        }
        // SAFETY: `fd` is a freshly created descriptor owned by no one else.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len(len)?;
        for (offset, bytes) in segments {
            file.write_all_at(bytes, *offset)?;
        }
        Ok(MemoryImage {
            file: Arc::new(file),
            offset: 0,
            len: len as usize,
        })
    }

    /// The image stored at `[offset, offset + len)` of `file` (an artifact
    /// that is never modified in place), or `None` when `offset` is not
    /// aligned to the host's pages.
    pub(crate) fn in_file(file: Arc<File>, offset: u64, len: usize) -> Option<MemoryImage> {
        let page = weft_sys::page_size() as u64;
        (offset.is_multiple_of(page) && (len as u64).is_multiple_of(page)).then_some(MemoryImage {
            file,
            offset,
            len,
        })
    }

    /// Bytes the image covers from the memory's base.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Maps the image copy-on-write at `base`.
    ///
    /// # Safety
    ///
    /// `[base, base + self.len())` must be page-aligned memory of a linear
    /// memory's own reservation, currently read/write, with no live Rust
    /// references into it; its previous contents are replaced.
    pub(crate) unsafe fn map_at(&self, base: *mut u8) -> Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        // SAFETY: per this function's contract the range belongs to the
        // caller's reservation, so replacing it (MAP_FIXED) unmaps nothing
        // else; the descriptor is valid for the image's lifetime.
        let p = unsafe {
            libc::mmap(
                base.cast(),
                self.len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                self.file.as_raw_fd(),
                self.offset as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error()).context("mapping a memory image failed");
        }
        if p.cast::<u8>() != base {
            bail!("mapping a memory image returned another address");
        }
        Ok(())
    }
}

/// The layout of one memory's image: its length (a page multiple) and
/// the segments (offset, bytes) in it, in module order.
pub(crate) type ImagePlan<'a> = (u64, Vec<(u64, &'a [u8])>);

/// The images for `info`'s defined memories (index: memory index minus
/// imported memories; `None` for a memory without data), or `None` when
/// the module's data must be copied (see the module docs).
pub(crate) fn build_images(info: &ModuleInfo) -> Result<Option<Vec<Option<MemoryImage>>>> {
    let Some(plans) = plan_images(info) else {
        return Ok(None);
    };
    plans
        .iter()
        .map(|p| {
            p.as_ref()
                .map(|(len, segs)| MemoryImage::new(*len, segs))
                .transpose()
        })
        .collect::<Result<_>>()
        .map(Some)
}

/// What [`build_images`] lays out, without building anything: per
/// defined memory its image plan (`None` for a memory without data), or
/// `None` when the module's data must be copied.
pub(crate) fn plan_images(info: &ModuleInfo) -> Option<Vec<Option<ImagePlan<'_>>>> {
    let num_imported = info.num_imported_memories as usize;
    let mut per_memory: Vec<Vec<(u64, &[u8])>> = vec![Vec::new(); info.memories.len()];
    let mut total = 0usize;
    for seg in &info.data {
        let SegmentMode::Active { index, offset } = &seg.mode else {
            continue;
        };
        let i = *index as usize;
        let ty = info.memories.get(i)?;
        if i < num_imported || ty.memory64 || ty.shared || ty.page_size_log2() != 16 {
            return None;
        }
        let [ConstOp::I32Const(off)] = offset.ops.as_slice() else {
            return None;
        };
        let off = *off as u32 as u64;
        let bytes = &info.data_bytes[seg.range.clone()];
        let end = off + bytes.len() as u64;
        if end > ty.initial.saturating_mul(1 << 16) {
            return None;
        }
        total += bytes.len();
        per_memory[i].push((off, bytes));
    }
    if total < MIN_IMAGE_DATA {
        return None;
    }
    let plans = per_memory
        .into_iter()
        .skip(num_imported)
        .map(|segs| {
            if segs.is_empty() {
                return None;
            }
            let len = segs
                .iter()
                .map(|(o, d)| o + d.len() as u64)
                .max()
                .unwrap_or(0)
                .next_multiple_of(OS_PAGE);
            Some((len, segs))
        })
        .collect();
    Some(plans)
}
