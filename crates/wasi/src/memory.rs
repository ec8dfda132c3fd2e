//! Bounds-checked access to guest linear memory.
//!
//! Every pointer a guest passes is checked against the memory's current
//! length before use; a bad pointer is `EFAULT` for the guest, never a
//! host crash. A syscall holds the memory and the [`crate::WasiCtx`] at
//! once (`Memory::data_and_store_mut`), so a write's bytes go from guest
//! memory to the descriptor without a copy when they are in one buffer.

use crate::errno::Errno;

/// The guest's linear memory, borrowed for one step of a syscall.
pub(crate) struct Mem<'a>(pub(crate) &'a mut [u8]);

/// An `iovec`: guest buffer address and length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IoVec {
    pub ptr: u32,
    pub len: u32,
}

impl Mem<'_> {
    #[inline]
    fn range(&self, ptr: u32, len: u32) -> Result<std::ops::Range<usize>, Errno> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(Errno::Fault)?;
        if end > self.0.len() {
            return Err(Errno::Fault);
        }
        Ok(start..end)
    }

    /// `len` bytes at `ptr`.
    #[inline]
    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&self.0[r])
    }

    /// `len` bytes at `ptr`, mutably.
    #[inline]
    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&mut self.0[r])
    }

    /// Copies `data` to `ptr`.
    #[inline]
    pub fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::Fault)?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
    }

    #[inline]
    fn array<const N: usize>(&self, ptr: u32) -> Result<[u8; N], Errno> {
        Ok(self
            .slice(ptr, N as u32)?
            .try_into()
            .expect("length checked"))
    }

    #[inline]
    pub fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(self.array(ptr)?))
    }
    pub fn write_u16(&mut self, ptr: u32, v: u16) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }
    #[inline]
    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }
    #[inline]
    pub fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// Reads `count` iovecs at `ptr`, checking that each buffer is in bounds.
    pub fn iovecs(&self, ptr: u32, count: u32) -> Result<Vec<IoVec>, Errno> {
        let bytes = count.checked_mul(8).ok_or(Errno::Fault)?;
        self.slice(ptr, bytes)?;
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            let at = ptr + i * 8;
            let v = IoVec {
                ptr: self.read_u32(at)?,
                len: self.read_u32(at + 4)?,
            };
            self.slice(v.ptr, v.len)?;
            out.push(v);
        }
        Ok(out)
    }

    /// The bytes of the `count` iovecs at `ptr` (for writes), each
    /// checked as [`Mem::iovecs`] does, gathered into `scratch` without
    /// building the list of iovecs.
    pub fn gather<'m>(
        &'m self,
        ptr: u32,
        count: u32,
        scratch: &'m mut Vec<u8>,
    ) -> Result<&'m [u8], Errno> {
        let bytes = count.checked_mul(8).ok_or(Errno::Fault)?;
        let table = self.slice(ptr, bytes)?;
        scratch.clear();
        for e in table.chunks_exact(8) {
            scratch.extend_from_slice(self.iovec(e)?);
        }
        Ok(scratch)
    }

    /// The buffer of the one iovec at `ptr` (for writes), checked as
    /// [`Mem::gather`] does, in guest memory (no copy).
    #[inline]
    pub fn gather_one(&self, ptr: u32) -> Result<&[u8], Errno> {
        self.iovec(self.slice(ptr, 8)?)
    }

    /// The buffer of the iovec whose 8 bytes (address, length) are `e`.
    #[inline]
    fn iovec(&self, e: &[u8]) -> Result<&[u8], Errno> {
        let ptr = u32::from_le_bytes(e[..4].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(e[4..8].try_into().expect("4 bytes"));
        self.slice(ptr, len)
    }

    /// Spreads `data` over `iovs` in order (for reads).
    pub fn scatter(&mut self, iovs: &[IoVec], mut data: &[u8]) -> Result<(), Errno> {
        for v in iovs {
            if data.is_empty() {
                break;
            }
            let n = data.len().min(v.len as usize);
            self.write(v.ptr, &data[..n])?;
            data = &data[n..];
        }
        Ok(())
    }

    /// A guest string (`ptr`, `len`), which must be UTF-8 (`EILSEQ` if not).
    pub fn string(&self, ptr: u32, len: u32) -> Result<String, Errno> {
        let bytes = self.slice(ptr, len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| Errno::Ilseq)
    }
}

/// Total length of `iovs`, capped so a read buffer is never absurdly large.
pub(crate) fn total_len(iovs: &[IoVec]) -> usize {
    iovs.iter().map(|v| v.len as usize).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        let mut buf = vec![0u8; 16];
        let mut m = Mem(&mut buf);
        m.write_u32(12, 7).unwrap();
        assert_eq!(m.read_u32(12).unwrap(), 7);
        assert_eq!(m.write_u32(13, 7), Err(Errno::Fault));
        assert_eq!(m.read_u32(u32::MAX).err(), Some(Errno::Fault));
        assert_eq!(m.slice(u32::MAX, u32::MAX).err(), Some(Errno::Fault));
        assert_eq!(m.iovecs(0, u32::MAX).err(), Some(Errno::Fault));
        m.write(0, b"\xff").unwrap();
        assert_eq!(m.string(0, 1), Err(Errno::Ilseq));
    }
}
