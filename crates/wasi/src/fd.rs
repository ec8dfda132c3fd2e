//! `fd_*`: operations on open descriptors.

use crate::ctx::{FdEntry, Kind, WasiCtx, host_filetype};
use crate::errno::{Errno, SysResult};
use crate::memory::{Mem, total_len};
use crate::types::{advice, fdflags, filetype, fstflags, rights, whence};
use crate::{Cx, GetCtx, Registrar};
use rustix::fs::{Advice, FallocateFlags, OFlags, Timespec, Timestamps};
use std::io::{Read, Seek, SeekFrom, Write};
use std::num::NonZeroU64;

pub(crate) fn add<T: 'static, G: GetCtx<T>>(r: &mut Registrar<'_, T, G>) -> anyhow::Result<()> {
    r.func::<(i32, i64, i64, i32)>("fd_advise", fd_advise)?;
    r.func::<(i32, i64, i64)>("fd_allocate", fd_allocate)?;
    r.func::<(i32,)>("fd_close", fd_close)?;
    r.func::<(i32,)>("fd_datasync", fd_datasync)?;
    r.func::<(i32, i32)>("fd_fdstat_get", fd_fdstat_get)?;
    r.func::<(i32, i32)>("fd_fdstat_set_flags", fd_fdstat_set_flags)?;
    r.func::<(i32, i64, i64)>("fd_fdstat_set_rights", fd_fdstat_set_rights)?;
    r.func::<(i32, i32)>("fd_filestat_get", fd_filestat_get)?;
    r.func::<(i32, i64)>("fd_filestat_set_size", fd_filestat_set_size)?;
    r.func::<(i32, i64, i64, i32)>("fd_filestat_set_times", fd_filestat_set_times)?;
    r.func::<(i32, i32, i32, i64, i32)>("fd_pread", fd_pread)?;
    r.func::<(i32, i32)>("fd_prestat_get", fd_prestat_get)?;
    r.func::<(i32, i32, i32)>("fd_prestat_dir_name", fd_prestat_dir_name)?;
    r.func::<(i32, i32, i32, i64, i32)>("fd_pwrite", fd_pwrite)?;
    r.func::<(i32, i32, i32, i32)>("fd_read", fd_read)?;
    r.func::<(i32, i32, i32, i64, i32)>("fd_readdir", fd_readdir)?;
    r.func::<(i32, i32)>("fd_renumber", fd_renumber)?;
    r.func::<(i32, i64, i32, i32)>("fd_seek", fd_seek)?;
    r.func::<(i32,)>("fd_sync", fd_sync)?;
    r.func::<(i32, i32)>("fd_tell", fd_tell)?;
    r.func::<(i32, i32, i32, i32)>("fd_write", fd_write)?;
    Ok(())
}

/// A WASI `filestat`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Filestat {
    pub dev: u64,
    pub ino: u64,
    pub filetype: u8,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

fn ts(sec: i64, nsec: i64) -> u64 {
    (sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(nsec as u64)
}

impl Filestat {
    pub(crate) fn from_stat(st: &rustix::fs::Stat) -> Filestat {
        Filestat {
            dev: st.st_dev,
            ino: st.st_ino,
            filetype: host_filetype(st.st_mode),
            nlink: st.st_nlink,
            size: st.st_size as u64,
            atim: ts(st.st_atime, st.st_atime_nsec as i64),
            mtim: ts(st.st_mtime, st.st_mtime_nsec as i64),
            ctim: ts(st.st_ctime, st.st_ctime_nsec as i64),
        }
    }

    pub(crate) fn from_metadata(m: &cap_std::fs::Metadata) -> Filestat {
        use cap_std::fs::MetadataExt;
        let ft = m.file_type();
        let filetype = wasi_filetype(&ft);
        Filestat {
            dev: m.dev(),
            ino: m.ino(),
            filetype,
            nlink: m.nlink(),
            size: m.size(),
            atim: ts(m.atime(), m.atime_nsec()),
            mtim: ts(m.mtime(), m.mtime_nsec()),
            ctim: ts(m.ctime(), m.ctime_nsec()),
        }
    }

    pub(crate) fn write(&self, mem: &mut Mem<'_>, ptr: u32) -> Result<(), Errno> {
        let mut b = [0u8; 64];
        b[0..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16] = self.filetype;
        b[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        b[32..40].copy_from_slice(&self.size.to_le_bytes());
        b[40..48].copy_from_slice(&self.atim.to_le_bytes());
        b[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        b[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        mem.write(ptr, &b)
    }
}

/// The host timestamps for `fd_filestat_set_times`/`path_filestat_set_times`:
/// `None` = leave unchanged, `Some(None)` = now, `Some(Some(ns))` = that time.
pub(crate) type TimeSpec = Option<Option<u64>>;

pub(crate) fn time_specs(atim: u64, mtim: u64, flags: u16) -> Result<(TimeSpec, TimeSpec), Errno> {
    if flags & !(fstflags::ATIM | fstflags::ATIM_NOW | fstflags::MTIM | fstflags::MTIM_NOW) != 0 {
        return Err(Errno::Inval);
    }
    let one = |set: u16, now: u16, t: u64| -> Result<TimeSpec, Errno> {
        match (flags & set != 0, flags & now != 0) {
            (true, true) => Err(Errno::Inval),
            (true, false) => Ok(Some(Some(t))),
            (false, true) => Ok(Some(None)),
            (false, false) => Ok(None),
        }
    };
    Ok((
        one(fstflags::ATIM, fstflags::ATIM_NOW, atim)?,
        one(fstflags::MTIM, fstflags::MTIM_NOW, mtim)?,
    ))
}

fn host_timespec(t: TimeSpec) -> Timespec {
    match t {
        None => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        Some(None) => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
        Some(Some(ns)) => Timespec {
            tv_sec: (ns / 1_000_000_000) as i64,
            tv_nsec: (ns % 1_000_000_000) as _,
        },
    }
}

pub(crate) fn host_timestamps(a: TimeSpec, m: TimeSpec) -> Timestamps {
    Timestamps {
        last_access: host_timespec(a),
        last_modification: host_timespec(m),
    }
}

fn entry_stat(e: &FdEntry) -> Result<Filestat, Errno> {
    Ok(match &e.kind {
        Kind::File(f) => Filestat::from_stat(&rustix::fs::fstat(f)?),
        Kind::Dir(d) => Filestat::from_stat(&rustix::fs::fstat(d)?),
        Kind::Listener(s) => Filestat::from_stat(&rustix::fs::fstat(s)?),
        Kind::Stream(s) => Filestat::from_stat(&rustix::fs::fstat(s)?),
        Kind::Stdin(_) | Kind::Stdout(_) => Filestat {
            filetype: e.filetype(),
            ..Default::default()
        },
    })
}

/// The fdflags of an entry: the host's for files and sockets.
fn entry_flags(e: &FdEntry) -> u16 {
    let host = match &e.kind {
        Kind::File(f) => rustix::fs::fcntl_getfl(f).ok(),
        Kind::Stream(s) => rustix::fs::fcntl_getfl(s).ok(),
        Kind::Listener(s) => rustix::fs::fcntl_getfl(s).ok(),
        _ => None,
    };
    let Some(fl) = host else {
        return e.flags;
    };
    let mut out = 0;
    if fl.contains(OFlags::APPEND) {
        out |= fdflags::APPEND;
    }
    if fl.contains(OFlags::NONBLOCK) {
        out |= fdflags::NONBLOCK;
    }
    if fl.contains(OFlags::SYNC) {
        out |= fdflags::SYNC;
    } else if fl.contains(OFlags::DSYNC) {
        out |= fdflags::DSYNC;
    }
    if fl.contains(OFlags::RSYNC) && fl.contains(OFlags::SYNC) {
        out |= fdflags::RSYNC;
    }
    out
}

fn fd_advise(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, offset, len, adv) = (a[0] as u32, a[1], a[2], a[3] as u8);
    let advice = match adv {
        advice::NORMAL => Advice::Normal,
        advice::SEQUENTIAL => Advice::Sequential,
        advice::RANDOM => Advice::Random,
        advice::WILLNEED => Advice::WillNeed,
        advice::DONTNEED => Advice::DontNeed,
        advice::NOREUSE => Advice::NoReuse,
        _ => return Err(Errno::Inval.into()),
    };
    let e = cx.ctx().get_with(fd, rights::FD_ADVISE)?;
    match &e.kind {
        Kind::File(f) => rustix::fs::fadvise(f, offset, NonZeroU64::new(len), advice)?,
        Kind::Dir(_) => return Err(Errno::Badf.into()),
        _ => return Err(Errno::Spipe.into()),
    }
    Ok(())
}

fn fd_allocate(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, offset, len) = (a[0] as u32, a[1], a[2]);
    let e = cx.ctx().get_with(fd, rights::FD_ALLOCATE)?;
    match &e.kind {
        Kind::File(f) => {
            offset.checked_add(len).ok_or(Errno::Fbig)?;
            rustix::fs::fallocate(f, FallocateFlags::empty(), offset, len)?
        }
        Kind::Dir(_) => return Err(Errno::Badf.into()),
        _ => return Err(Errno::Spipe.into()),
    }
    Ok(())
}

fn fd_close(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    cx.ctx().fds.remove(&(a[0] as u32)).ok_or(Errno::Badf)?;
    Ok(())
}

fn fd_datasync(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let e = cx.ctx().get_with(a[0] as u32, rights::FD_DATASYNC)?;
    match &e.kind {
        Kind::File(f) => f.sync_data()?,
        Kind::Dir(d) => rustix::fs::fdatasync(d)?,
        _ => return Err(Errno::Inval.into()),
    }
    Ok(())
}

fn fd_sync(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let e = cx.ctx().get_with(a[0] as u32, rights::FD_SYNC)?;
    match &e.kind {
        Kind::File(f) => f.sync_all()?,
        Kind::Dir(d) => rustix::fs::fsync(d)?,
        _ => return Err(Errno::Inval.into()),
    }
    Ok(())
}

fn fd_fdstat_get(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let e = cx.ctx().get(a[0] as u32)?;
    let mut b = [0u8; 24];
    b[0] = e.filetype();
    b[2..4].copy_from_slice(&entry_flags(e).to_le_bytes());
    b[8..16].copy_from_slice(&e.base.to_le_bytes());
    b[16..24].copy_from_slice(&e.inheriting.to_le_bytes());
    cx.mem()?.write(a[1] as u32, &b)?;
    Ok(())
}

fn fd_fdstat_set_flags(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let flags = a[1] as u16;
    let e = cx
        .ctx()
        .get_with(a[0] as u32, rights::FD_FDSTAT_SET_FLAGS)?;
    if flags
        & !(fdflags::APPEND | fdflags::DSYNC | fdflags::NONBLOCK | fdflags::RSYNC | fdflags::SYNC)
        != 0
    {
        return Err(Errno::Inval.into());
    }
    // Linux cannot change the synchronisation flags of an open file.
    if flags & (fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC) != 0 {
        return Err(Errno::Notsup.into());
    }
    let set = |fd: rustix::fd::BorrowedFd<'_>| -> SysResult {
        let mut fl = rustix::fs::fcntl_getfl(fd)?;
        fl.set(OFlags::APPEND, flags & fdflags::APPEND != 0);
        fl.set(OFlags::NONBLOCK, flags & fdflags::NONBLOCK != 0);
        rustix::fs::fcntl_setfl(fd, fl)?;
        Ok(())
    };
    use rustix::fd::AsFd;
    match &e.kind {
        Kind::File(f) => set(f.as_fd())?,
        Kind::Stream(s) => set(s.as_fd())?,
        Kind::Listener(s) => set(s.as_fd())?,
        Kind::Dir(_) => {
            if flags & fdflags::APPEND != 0 {
                return Err(Errno::Inval.into());
            }
        }
        Kind::Stdin(_) | Kind::Stdout(_) => e.flags = flags,
    }
    Ok(())
}

fn fd_fdstat_set_rights(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (base, inheriting) = (a[1], a[2]);
    let e = cx.ctx().get(a[0] as u32)?;
    if base & !e.base != 0 || inheriting & !e.inheriting != 0 {
        return Err(Errno::Notcapable.into());
    }
    e.dropped |= e.base & !base;
    e.base = base;
    e.inheriting = inheriting;
    Ok(())
}

fn fd_filestat_get(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let e = cx.ctx().get_with(a[0] as u32, rights::FD_FILESTAT_GET)?;
    let st = entry_stat(e)?;
    st.write(&mut cx.mem()?, a[1] as u32)?;
    Ok(())
}

fn fd_filestat_set_size(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let e = cx
        .ctx()
        .get_with(a[0] as u32, rights::FD_FILESTAT_SET_SIZE)?;
    match &e.kind {
        Kind::File(f) => {
            if a[1] > i64::MAX as u64 {
                return Err(Errno::Fbig.into());
            }
            f.set_len(a[1])?
        }
        Kind::Dir(_) => return Err(Errno::Isdir.into()),
        _ => return Err(Errno::Inval.into()),
    }
    Ok(())
}

fn fd_filestat_set_times(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (at, mt) = time_specs(a[1], a[2], a[3] as u16)?;
    let e = cx
        .ctx()
        .get_with(a[0] as u32, rights::FD_FILESTAT_SET_TIMES)?;
    let times = host_timestamps(at, mt);
    match &e.kind {
        Kind::File(f) => rustix::fs::futimens(f, &times)?,
        Kind::Dir(d) => rustix::fs::futimens(d, &times)?,
        _ => return Err(Errno::Inval.into()),
    }
    Ok(())
}

/// Reads up to `len` bytes from `e` (at `offset`, if given).
fn read_entry(e: &mut FdEntry, len: usize, offset: Option<u64>) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; len];
    let n = match (&mut e.kind, offset) {
        (Kind::File(f), None) => f.read(&mut buf)?,
        (Kind::File(f), Some(off)) => rustix::io::pread(&*f, &mut buf, off)?,
        (Kind::Dir(_), _) => return Err(Errno::Isdir),
        (_, Some(_)) => return Err(Errno::Spipe),
        (Kind::Stdin(s), None) => s.read(&mut buf)?,
        (Kind::Stream(s), None) => s.read(&mut buf)?,
        (Kind::Stdout(_) | Kind::Listener(_), None) => return Err(Errno::Badf),
    };
    buf.truncate(n);
    Ok(buf)
}

fn write_entry(e: &mut FdEntry, data: &[u8], offset: Option<u64>) -> Result<usize, Errno> {
    Ok(match (&mut e.kind, offset) {
        (Kind::File(f), None) => f.write(data)?,
        (Kind::File(f), Some(off)) => rustix::io::pwrite(&*f, data, off)?,
        (Kind::Dir(_), _) => return Err(Errno::Isdir),
        (_, Some(_)) => return Err(Errno::Spipe),
        (Kind::Stdout(s), None) => s.write(data)?,
        (Kind::Stream(s), None) => s.write(data)?,
        (Kind::Stdin(_) | Kind::Listener(_), None) => return Err(Errno::Badf),
    })
}

fn do_read(cx: &mut Cx<'_>, a: &[u64], offset: Option<u64>) -> SysResult {
    let (fd, iovs, count) = (a[0] as u32, a[1] as u32, a[2] as u32);
    let out = a[if offset.is_some() { 4 } else { 3 }] as u32;
    let needed = rights::FD_READ | if offset.is_some() { rights::FD_SEEK } else { 0 };
    let iovs = cx.mem()?.iovecs(iovs, count)?;
    let e = cx.ctx().get_with(fd, needed)?;
    let data = read_entry(e, total_len(&iovs), offset)?;
    let mut mem = cx.mem()?;
    mem.scatter(&iovs, &data)?;
    mem.write_u32(out, data.len() as u32)?;
    Ok(())
}

#[inline]
fn do_write(cx: &mut Cx<'_>, a: &[u64], offset: Option<u64>) -> SysResult {
    let (fd, iovs, count) = (a[0] as u32, a[1] as u32, a[2] as u32);
    let out = a[if offset.is_some() { 4 } else { 3 }] as u32;
    let needed = rights::FD_WRITE | if offset.is_some() { rights::FD_SEEK } else { 0 };
    let n = cx.with_gathered(iovs, count, |ctx, data| {
        Ok(write_entry(ctx.get_with(fd, needed)?, data, offset)?)
    })?;
    cx.mem()?.write_u32(out, n as u32)?;
    Ok(())
}

fn fd_read(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    do_read(cx, a, None)
}

fn fd_pread(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    do_read(cx, a, Some(a[3]))
}

#[inline]
fn fd_write(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    do_write(cx, a, None)
}

fn fd_pwrite(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    do_write(cx, a, Some(a[3]))
}

fn fd_prestat_get(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let e = cx.ctx().get(a[0] as u32)?;
    let name = e.preopen.as_ref().ok_or(Errno::Badf)?;
    let len = name.len() as u32;
    let mut mem = cx.mem()?;
    mem.write(a[1] as u32, &[0u8; 4])?;
    mem.write_u32(a[1] as u32 + 4, len)?;
    Ok(())
}

fn fd_prestat_dir_name(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let e = cx.ctx().get(a[0] as u32)?;
    let name = e.preopen.clone().ok_or(Errno::Badf)?;
    if (a[2] as u32 as usize) < name.len() {
        return Err(Errno::Nametoolong.into());
    }
    cx.mem()?.write(a[1] as u32, name.as_bytes())?;
    Ok(())
}

/// One directory entry as `fd_readdir` reports it.
struct DirEntryInfo {
    name: Vec<u8>,
    ino: u64,
    filetype: u8,
}

fn list_dir(dir: &cap_std::fs::Dir) -> Result<Vec<DirEntryInfo>, Errno> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::DirEntryExt;
    let self_ino = rustix::fs::fstat(dir)?.st_ino;
    let mut out = vec![
        DirEntryInfo {
            name: b".".to_vec(),
            ino: self_ino,
            filetype: filetype::DIRECTORY,
        },
        DirEntryInfo {
            name: b"..".to_vec(),
            ino: 0,
            filetype: filetype::DIRECTORY,
        },
    ];
    for entry in dir.entries()? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let filetype = wasi_filetype(&ft);
        out.push(DirEntryInfo {
            name: entry.file_name().as_bytes().to_vec(),
            ino: entry.ino(),
            filetype,
        });
    }
    Ok(out)
}

fn fd_readdir(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, buf, buf_len, cookie, out) =
        (a[0] as u32, a[1] as u32, a[2] as u32, a[3], a[4] as u32);
    let e = cx.ctx().get_with(fd, rights::FD_READDIR)?;
    let entries = list_dir(e.dir()?)?;
    let mut bytes = Vec::new();
    for (i, ent) in entries
        .iter()
        .enumerate()
        .skip(cookie.min(usize::MAX as u64) as usize)
    {
        if bytes.len() >= buf_len as usize {
            break;
        }
        let mut hdr = [0u8; 24];
        hdr[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        hdr[8..16].copy_from_slice(&ent.ino.to_le_bytes());
        hdr[16..20].copy_from_slice(&(ent.name.len() as u32).to_le_bytes());
        hdr[20] = ent.filetype;
        bytes.extend_from_slice(&hdr);
        bytes.extend_from_slice(&ent.name);
    }
    bytes.truncate(buf_len as usize);
    let mut mem = cx.mem()?;
    mem.write(buf, &bytes)?;
    mem.write_u32(out, bytes.len() as u32)?;
    Ok(())
}

fn fd_renumber(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (from, to) = (a[0] as u32, a[1] as u32);
    let ctx: &mut WasiCtx = cx.ctx();
    if !ctx.fds.contains_key(&from) || !ctx.fds.contains_key(&to) {
        return Err(Errno::Badf.into());
    }
    if from != to {
        let e = ctx.fds.remove(&from).expect("checked");
        ctx.fds.insert(to, e);
    }
    Ok(())
}

fn seek(e: &mut FdEntry, pos: SeekFrom) -> Result<u64, Errno> {
    match &mut e.kind {
        Kind::File(f) => Ok(f.seek(pos)?),
        Kind::Dir(_) => Err(Errno::Isdir),
        _ => Err(Errno::Spipe),
    }
}

fn fd_seek(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, offset, wh, out) = (a[0] as u32, a[1] as i64, a[2] as u8, a[3] as u32);
    // Asking for the current position needs only `FD_TELL` (or `FD_SEEK`).
    let needed = if wh == whence::CUR && offset == 0 {
        rights::FD_TELL | rights::FD_SEEK
    } else {
        rights::FD_SEEK
    };
    let pos = match wh {
        whence::SET => {
            if offset < 0 {
                return Err(Errno::Inval.into());
            }
            SeekFrom::Start(offset as u64)
        }
        whence::CUR => SeekFrom::Current(offset),
        whence::END => SeekFrom::End(offset),
        _ => return Err(Errno::Inval.into()),
    };
    let e = cx.ctx().get(fd)?;
    if e.base & needed == 0 {
        return Err(Errno::Notcapable.into());
    }
    let n = seek(e, pos)?;
    cx.mem()?.write_u64(out, n)?;
    Ok(())
}

fn fd_tell(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let e = cx.ctx().get_with(a[0] as u32, rights::FD_TELL)?;
    let n = seek(e, SeekFrom::Current(0))?;
    cx.mem()?.write_u64(a[1] as u32, n)?;
    Ok(())
}

/// The WASI file type of a host file type.
fn wasi_filetype(ft: &cap_std::fs::FileType) -> u8 {
    use cap_std::fs::FileTypeExt;
    if ft.is_dir() {
        filetype::DIRECTORY
    } else if ft.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if ft.is_file() {
        filetype::REGULAR_FILE
    } else if ft.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if ft.is_block_device() {
        filetype::BLOCK_DEVICE
    } else if ft.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        filetype::UNKNOWN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fstflags() {
        assert!(time_specs(0, 0, fstflags::ATIM | fstflags::ATIM_NOW).is_err());
        assert!(time_specs(0, 0, 1 << 9).is_err());
        let (a, m) = time_specs(5, 6, fstflags::ATIM | fstflags::MTIM_NOW).unwrap();
        assert_eq!(a, Some(Some(5)));
        assert_eq!(m, Some(None));
    }
}
