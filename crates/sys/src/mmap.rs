//! Page-granular virtual memory: reserve address space, then change the
//! protection of parts of it.
//!
//! An [`Mmap`] owns one anonymous private mapping. It starts either entirely
//! inaccessible ([`Mmap::reserve`]: address space only, nothing committed,
//! `MAP_NORESERVE` so no swap is accounted) or entirely read-write
//! ([`Mmap::accessible`]). Sub-ranges are then switched with `mprotect`;
//! linear memories grow this way and code memory flips to read+execute.
//!
//! ```text
//!   as_ptr()                                         as_ptr() + len()
//!   |                                                               |
//!   v                                                               v
//!   +--------------------+---------------------+--------------------+
//!   | PROT_READ|WRITE    | PROT_READ|EXEC      | PROT_NONE          |
//!   | make_accessible()  | make_executable()   | (reserved only;    |
//!   |                    |                     |  any access faults)|
//!   +--------------------+---------------------+--------------------+
//!   0                    offset a              offset b
//!
//!   Every offset and length handed to the protection methods must lie
//!   inside [0, len()) and offsets must be page aligned; lengths are
//!   rounded up to whole pages.
//! ```
//!
//! [`Mmap::guarded`] maps read-write memory whose first pages fault on any
//! access (a stack's guard): a guard region (`MADV_GUARD_INSTALL`, Linux
//! 6.13) where the kernel has them, which keeps the mapping one VMA;
//! otherwise `PROT_NONE` pages, a second VMA.
//!
//! `decommit` gives the physical pages of a range back to the kernel with
//! `madvise(MADV_DONTNEED)`; the range keeps its protection and reads as
//! zeros afterwards (this is the defined behaviour of `MADV_DONTNEED` on a
//! private anonymous mapping).
//!
//! [`Mmap::map_file`] maps a file instead: a private, read-only view of
//! its contents (`MAP_PRIVATE`), whose pages come from the page cache and
//! are copied only when a range made writable is written. Precompiled
//! modules are loaded this way (their code and memory images are used in
//! place). `decommit` is not meant for file mappings.
//!
//! A zero-length `Mmap` is allowed and maps nothing.

use anyhow::{Result, anyhow, bail};
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The host page size in bytes (cached after the first call).
pub fn page_size() -> usize {
    static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE_SIZE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: `sysconf` has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let size = usize::try_from(size)
        .ok()
        .filter(|s| s.is_power_of_two())
        .expect("sysconf(_SC_PAGESIZE) returned an invalid page size");
    PAGE_SIZE.store(size, Ordering::Relaxed);
    size
}

/// `madvise` advice installing guard regions (Linux 6.13; not yet in every
/// `libc` release): accesses fault as on `PROT_NONE` pages, without
/// splitting the mapping. Kept by `MADV_DONTNEED`, removed by `munmap`.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Set once `MADV_GUARD_INSTALL` has failed here (`EINVAL` from a kernel
/// before 6.13, or a sandbox's refusal): `PROT_NONE` guards from then on.
static NO_GUARD_REGIONS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn guard_regions_supported() -> bool {
    !NO_GUARD_REGIONS.load(Ordering::Relaxed)
}

/// `len` rounded up to a multiple of the page size, or `None` on overflow.
pub fn round_up_to_page(len: usize) -> Option<usize> {
    let page = page_size();
    Some(len.checked_add(page - 1)? & !(page - 1))
}

/// One private mapping (anonymous, or of a file: [`Mmap::map_file`]),
/// unmapped on drop.
#[derive(Debug)]
pub struct Mmap {
    /// Start of the mapping (dangling but non-null when `len == 0`).
    ptr: NonNull<u8>,
    /// Length in bytes, a multiple of the page size.
    len: usize,
}

// SAFETY: `Mmap` is a plain owner of an address range; the raw pointer is
// not tied to any thread. Concurrent access to the bytes is governed by the
// users of `as_ptr`, exactly as for a `Vec<u8>`'s buffer.
unsafe impl Send for Mmap {}
// SAFETY: all `&self` methods only read `ptr`/`len`; protection changes need
// `&mut self`.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Reserves `len` bytes (rounded up to whole pages) of inaccessible
    /// address space.
    pub fn reserve(len: usize) -> Result<Mmap> {
        let Some(len) = round_up_to_page(len) else {
            bail!("failed to reserve {len} bytes of virtual memory: size overflows");
        };
        Mmap::new_mapping(
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
        )
        .map_err(|e| anyhow!("failed to reserve {len} bytes of virtual memory: mmap: {e}"))
    }

    /// A new mapping of `len` bytes (a multiple of the page size; 0 gives
    /// an empty mapping without a syscall) at a kernel-chosen address.
    fn new_mapping(len: usize, prot: i32, flags: i32, fd: i32) -> io::Result<Mmap> {
        if len == 0 {
            return Ok(Mmap {
                ptr: NonNull::dangling(),
                len: 0,
            });
        }
        // SAFETY: a new mapping at a kernel-chosen address cannot alias any
        // existing Rust object; a file descriptor, if any, is valid for
        // the call (callers pass a live one; the mapping keeps its own
        // reference to the file).
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap {
            ptr: NonNull::new(ptr.cast()).expect("mmap returned null"),
            len,
        })
    }

    /// Maps `len` bytes (rounded up to whole pages) of zeroed read-write
    /// memory.
    pub fn accessible(len: usize) -> Result<Mmap> {
        let Some(len) = round_up_to_page(len) else {
            bail!("failed to map {len} bytes of memory: size overflows");
        };
        // One mmap, read-write from the start (not a reservation opened
        // by a second syscall); `MAP_NORESERVE` as for reservations.
        Mmap::new_mapping(
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
        )
        .map_err(|e| anyhow!("failed to map {len} bytes of memory: mmap: {e}"))
    }

    /// Maps `len` bytes (rounded up to whole pages) of zeroed read-write
    /// memory whose first `guard` bytes (whole pages) fault on any access:
    /// a stack with its guard below it. Where the kernel has guard regions
    /// (`madvise(MADV_GUARD_INSTALL)`, Linux 6.13) the guard is one of
    /// those, which leaves the mapping a single VMA (cheaper to create,
    /// fault in and unmap than the two an `mprotect`ed guard makes);
    /// elsewhere the guard is `PROT_NONE`.
    pub fn guarded(len: usize, guard: usize) -> Result<Mmap> {
        Mmap::guarded_with(len, guard, guard_regions_supported())
    }

    /// [`Mmap::guarded`], trying guard regions only if `regions`.
    fn guarded_with(len: usize, guard: usize, regions: bool) -> Result<Mmap> {
        let mut m = Mmap::accessible(len)?;
        let guard = m.check_range("guarded", 0, guard)?;
        if guard == 0 {
            return Ok(m);
        }
        if regions {
            // SAFETY: the range is the start of our own new mapping; nothing
            // refers to its bytes yet (they are discarded, not read).
            let rc = unsafe { libc::madvise(m.as_ptr().cast(), guard, MADV_GUARD_INSTALL) };
            if rc == 0 {
                return Ok(m);
            }
            // An older kernel (EINVAL), or a sandbox refusing the advice:
            // use mprotect from now on.
            NO_GUARD_REGIONS.store(true, Ordering::Relaxed);
        }
        m.make_inaccessible(0, guard)?;
        Ok(m)
    }

    /// Maps the first `len` bytes of `file` (rounded up to whole pages)
    /// private and read-only, faulting the pages in up front
    /// (`MAP_POPULATE`: the caller reads all of them).
    ///
    /// The file must not shrink while mapped: accessing a page past its
    /// end raises `SIGBUS`. `len` must not exceed the file's length.
    pub fn map_file(file: &std::fs::File, len: usize) -> Result<Mmap> {
        use std::os::fd::AsRawFd;
        let Some(rounded) = round_up_to_page(len) else {
            bail!("failed to map {len} bytes of a file: size overflows");
        };
        Mmap::new_mapping(
            rounded,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_POPULATE,
            file.as_raw_fd(),
        )
        .map_err(|e| anyhow!("failed to map {len} bytes of a file: mmap: {e}"))
    }

    /// Start of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length of the mapping in bytes (a multiple of the page size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks `offset`/`len` and returns the page-rounded length.
    fn check_range(&self, what: &str, offset: usize, len: usize) -> Result<usize> {
        let page = page_size();
        if !offset.is_multiple_of(page) {
            bail!("{what}: offset {offset:#x} is not page aligned");
        }
        let rounded = round_up_to_page(len);
        match rounded.and_then(|r| r.checked_add(offset)) {
            Some(end) if end <= self.len => Ok(rounded.unwrap()),
            _ => bail!(
                "{what}: range {offset:#x}+{len:#x} is outside the {:#x}-byte mapping",
                self.len
            ),
        }
    }

    fn protect(&mut self, what: &str, offset: usize, len: usize, prot: libc::c_int) -> Result<()> {
        let len = self.check_range(what, offset, len)?;
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside our own mapping (checked above), and
        // protection changes need `&mut self`, so no safe reference into
        // the bytes obtained through this `Mmap` is alive.
        let rc = unsafe { libc::mprotect(self.as_ptr().add(offset).cast(), len, prot) };
        if rc != 0 {
            bail!(
                "{what}: mprotect of {len} bytes at offset {offset:#x} failed: {}",
                io::Error::last_os_error()
            );
        }
        Ok(())
    }

    /// Makes `[offset, offset + len)` readable and writable.
    pub fn make_accessible(&mut self, offset: usize, len: usize) -> Result<()> {
        self.protect(
            "make_accessible",
            offset,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    }

    /// Makes `[offset, offset + len)` readable and executable (never
    /// writable at the same time).
    pub fn make_executable(&mut self, offset: usize, len: usize) -> Result<()> {
        self.protect(
            "make_executable",
            offset,
            len,
            libc::PROT_READ | libc::PROT_EXEC,
        )
    }

    /// Makes `[offset, offset + len)` read-only.
    pub fn make_readonly(&mut self, offset: usize, len: usize) -> Result<()> {
        self.protect("make_readonly", offset, len, libc::PROT_READ)
    }

    /// Makes `[offset, offset + len)` inaccessible again (contents kept).
    pub fn make_inaccessible(&mut self, offset: usize, len: usize) -> Result<()> {
        self.protect("make_inaccessible", offset, len, libc::PROT_NONE)
    }

    /// Releases the physical pages of `[offset, offset + len)`: the range
    /// keeps its protection and reads as zeros afterwards.
    pub fn decommit(&mut self, offset: usize, len: usize) -> Result<()> {
        let len = self.check_range("decommit", offset, len)?;
        if len == 0 {
            return Ok(());
        }
        // SAFETY: the range lies inside our private anonymous mapping;
        // `&mut self` guarantees no reference obtained through this `Mmap`
        // observes the bytes changing to zero.
        let rc =
            unsafe { libc::madvise(self.as_ptr().add(offset).cast(), len, libc::MADV_DONTNEED) };
        if rc != 0 {
            bail!(
                "decommit: madvise(MADV_DONTNEED) of {len} bytes at offset {offset:#x} failed: {}",
                io::Error::last_os_error()
            );
        }
        Ok(())
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: we own the mapping and nobody can use it after drop.
        let rc = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        debug_assert_eq!(
            rc,
            0,
            "munmap of {} bytes failed: {}",
            self.len,
            io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the byte at `p` is readable, asked from the kernel without
    /// touching it: `write(2)` from an unreadable address into a pipe fails
    /// with EFAULT instead of raising SIGSEGV.
    fn readable(p: *const u8) -> bool {
        let mut fds = [0; 2];
        // SAFETY: `fds` is valid for two ints.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: the kernel checks the user pointer and reports EFAULT
        // instead of faulting.
        let n = unsafe { libc::write(fds[1], p.cast(), 1) };
        // SAFETY: both descriptors were opened above and are closed once.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        n == 1
    }

    #[test]
    fn reserve_rounds_up_and_is_inaccessible() {
        let page = page_size();
        let m = Mmap::reserve(1).unwrap();
        assert_eq!(m.len(), page);
        assert_eq!(m.as_ptr() as usize % page, 0);
        assert!(!readable(m.as_ptr()));
    }

    #[test]
    fn accessible_is_zeroed_and_writable() {
        let m = Mmap::accessible(3 * page_size() + 5).unwrap();
        assert_eq!(m.len(), 4 * page_size());
        // SAFETY: the whole mapping is read-write and owned by `m`.
        let s = unsafe { std::slice::from_raw_parts_mut(m.as_ptr(), m.len()) };
        assert!(s.iter().all(|b| *b == 0));
        s[0] = 1;
        s[m.len() - 1] = 2;
        assert_eq!(s[0] + s[m.len() - 1], 3);
    }

    #[test]
    fn guarded_mapping_faults_in_its_guard_only() {
        // Whatever this kernel supports, then the PROT_NONE fallback.
        for regions in [guard_regions_supported(), false] {
            check_guarded(regions);
        }
    }

    fn check_guarded(regions: bool) {
        let page = page_size();
        let mut m = Mmap::guarded_with(4 * page, page, regions).unwrap();
        assert_eq!(m.len(), 4 * page);
        // Both ends of the guard page are unreadable (a guard region or
        // PROT_NONE, whichever this kernel gave)...
        assert!(!readable(m.as_ptr()));
        assert!(!readable(m.as_ptr().wrapping_add(page - 1)));
        // ...and everything above it is zeroed read-write memory.
        // SAFETY: `[page, len)` is read-write and owned by `m`.
        let usable = unsafe { std::slice::from_raw_parts_mut(m.as_ptr().add(page), 3 * page) };
        assert!(usable.iter().all(|b| *b == 0));
        usable[0] = 1;
        usable[3 * page - 1] = 2;
        assert!(readable(m.as_ptr().wrapping_add(page)));
        // Giving the usable pages back keeps the guard.
        m.decommit(page, 3 * page).unwrap();
        assert!(!readable(m.as_ptr()));
        assert!(readable(m.as_ptr().wrapping_add(page)));
        // A guard larger than the mapping is an error, not a silent
        // partial guard.
        assert!(Mmap::guarded_with(page, 2 * page, regions).is_err());
    }

    #[test]
    fn protection_changes_and_decommit() {
        let page = page_size();
        let mut m = Mmap::reserve(4 * page).unwrap();
        m.make_accessible(page, 2 * page).unwrap();
        assert!(!readable(m.as_ptr()));
        assert!(readable(m.as_ptr().wrapping_add(page)));
        assert!(readable(m.as_ptr().wrapping_add(3 * page - 1)));
        assert!(!readable(m.as_ptr().wrapping_add(3 * page)));

        let p = m.as_ptr().wrapping_add(page);
        // SAFETY: the page at `p` is read-write.
        unsafe { p.write(42) };
        m.make_readonly(page, page).unwrap();
        assert!(readable(p));
        // SAFETY: still readable.
        assert_eq!(unsafe { p.read() }, 42);

        m.make_accessible(page, page).unwrap();
        m.decommit(page, page).unwrap();
        // SAFETY: still read-write after decommit, now zero.
        assert_eq!(unsafe { p.read() }, 0);

        m.make_inaccessible(page, 2 * page).unwrap();
        assert!(!readable(p));
    }

    #[test]
    fn bad_ranges_are_errors() {
        let page = page_size();
        let mut m = Mmap::reserve(2 * page).unwrap();
        let e = m.make_accessible(1, 1).unwrap_err().to_string();
        assert!(e.contains("not page aligned"), "{e}");
        let e = m.make_executable(page, 2 * page).unwrap_err().to_string();
        assert!(e.contains("outside"), "{e}");
        assert!(m.make_readonly(0, usize::MAX).is_err());
        // Zero-length operations are fine.
        m.make_accessible(2 * page, 0).unwrap();
    }

    #[test]
    fn huge_reserve_error_names_the_size() {
        let e = Mmap::reserve(1 << 62)
            .expect_err("reserving 4 EiB cannot succeed")
            .to_string();
        assert!(
            e.contains("failed to reserve 4611686018427387904 bytes of virtual memory"),
            "{e}"
        );
    }

    #[test]
    fn empty_mapping() {
        let mut m = Mmap::reserve(0).unwrap();
        assert!(m.is_empty());
        m.make_accessible(0, 0).unwrap();
        let m = Mmap::accessible(0).unwrap();
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn file_mapping_is_private() {
        use std::io::{Read, Seek, Write};
        let page = page_size();
        let path = std::env::temp_dir().join(format!("weft-sys-map-{}", std::process::id()));
        let mut f = std::fs::File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let contents: Vec<u8> = (0..page + 10).map(|i| (i % 251) as u8).collect();
        f.write_all(&contents).unwrap();
        let mut m = Mmap::map_file(&f, contents.len()).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(m.len(), 2 * page);
        // SAFETY: the mapping is readable over the file's length.
        let s = unsafe { std::slice::from_raw_parts(m.as_ptr(), contents.len()) };
        assert_eq!(s, &contents[..]);
        // The tail of the last page past the end of the file reads as zero.
        // SAFETY: inside the mapping's last (partial) page.
        assert_eq!(unsafe { m.as_ptr().add(page + 10).read() }, 0);
        m.make_accessible(0, page).unwrap();
        // SAFETY: the first page is now read-write.
        unsafe { m.as_ptr().write(0xee) };
        // SAFETY: as above.
        assert_eq!(unsafe { m.as_ptr().read() }, 0xee);
        // The write stays in this process's copy of the page.
        let mut back = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, contents);
        assert!(Mmap::map_file(&f, 0).unwrap().is_empty());
    }
}
