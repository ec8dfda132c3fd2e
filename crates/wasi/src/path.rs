//! `path_*`: operations on paths relative to a directory descriptor.
//!
//! Every path is resolved by `cap-std` beneath the directory it is relative
//! to: absolute paths, `..` above the base and symlinks pointing outside it
//! fail (`ENOTCAPABLE` for absolute paths, `EPERM` for escapes found during
//! resolution) without touching anything outside.

use crate::ctx::{FdEntry, Kind, WasiCtx};
use crate::errno::{Errno, SysResult};
use crate::fd::{Filestat, TimeSpec, time_specs};
use crate::types::{fdflags, lookupflags, oflags, rights};
use crate::{Cx, GetCtx, Registrar};
use cap_fs_ext::{
    DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt,
    SystemTimeSpec,
};
use cap_std::fs::{Dir, OpenOptions};
use std::os::unix::ffi::OsStrExt;

pub(crate) fn add<T: 'static, G: GetCtx<T>>(r: &mut Registrar<'_, T, G>) -> anyhow::Result<()> {
    r.func::<(i32, i32, i32)>("path_create_directory", path_create_directory)?;
    r.func::<(i32, i32, i32, i32, i32)>("path_filestat_get", path_filestat_get)?;
    r.func::<(i32, i32, i32, i32, i64, i64, i32)>(
        "path_filestat_set_times",
        path_filestat_set_times,
    )?;
    r.func::<(i32, i32, i32, i32, i32, i32, i32)>("path_link", path_link)?;
    r.func::<(i32, i32, i32, i32, i32, i64, i64, i32, i32)>("path_open", path_open)?;
    r.func::<(i32, i32, i32, i32, i32, i32)>("path_readlink", path_readlink)?;
    r.func::<(i32, i32, i32)>("path_remove_directory", path_remove_directory)?;
    r.func::<(i32, i32, i32, i32, i32, i32)>("path_rename", path_rename)?;
    r.func::<(i32, i32, i32, i32, i32)>("path_symlink", path_symlink)?;
    r.func::<(i32, i32, i32)>("path_unlink_file", path_unlink_file)?;
    Ok(())
}

/// Reads a guest path and checks it is relative and non-empty.
fn read_path(cx: &mut Cx<'_>, ptr: u64, len: u64) -> SysResult<String> {
    let mem = cx.mem()?;
    let path = mem.string(ptr as u32, len as u32)?;
    check_path(&path)?;
    Ok(path)
}

fn check_path(path: &str) -> Result<(), Errno> {
    if path.is_empty() {
        return Err(Errno::Noent);
    }
    if path.starts_with('/') {
        return Err(Errno::Notcapable);
    }
    if path.contains('\0') {
        return Err(Errno::Ilseq);
    }
    Ok(())
}

/// The directory of `fd`, which must hold `needed`.
fn dir_of(ctx: &mut WasiCtx, fd: u32, needed: u64) -> Result<&FdEntry, Errno> {
    let e = ctx.get(fd)?;
    if !matches!(e.kind, Kind::Dir(_)) {
        // A file descriptor never has path rights: report the missing
        // capability the way a rights check would.
        return Err(Errno::Notdir);
    }
    e.check(needed)?;
    Ok(e)
}

fn dir(ctx: &mut WasiCtx, fd: u32, needed: u64) -> Result<&Dir, Errno> {
    dir_of(ctx, fd, needed)?.dir()
}

fn path_create_directory(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let path = read_path(cx, a[1], a[2])?;
    let d = dir(cx.ctx(), a[0] as u32, rights::PATH_CREATE_DIRECTORY)?;
    d.create_dir(path.trim_end_matches('/'))?;
    Ok(())
}

fn path_filestat_get(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, flags, out) = (a[0] as u32, a[1] as u32, a[4] as u32);
    let path = read_path(cx, a[2], a[3])?;
    let d = dir(cx.ctx(), fd, rights::PATH_FILESTAT_GET)?;
    let md = if flags & lookupflags::SYMLINK_FOLLOW != 0 {
        d.metadata(&path)?
    } else {
        d.symlink_metadata(&path)?
    };
    Filestat::from_metadata(&md).write(&mut cx.mem()?, out)?;
    Ok(())
}

fn system_time_spec(t: TimeSpec) -> Option<SystemTimeSpec> {
    t.map(|t| match t {
        None => SystemTimeSpec::SymbolicNow,
        Some(ns) => SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(
            std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns),
        )),
    })
}

fn path_filestat_set_times(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, flags) = (a[0] as u32, a[1] as u32);
    let (at, mt) = time_specs(a[4], a[5], a[6] as u16)?;
    let path = read_path(cx, a[2], a[3])?;
    let d = dir(cx.ctx(), fd, rights::PATH_FILESTAT_SET_TIMES)?;
    let (at, mt) = (system_time_spec(at), system_time_spec(mt));
    if flags & lookupflags::SYMLINK_FOLLOW != 0 {
        d.set_times(&path, at, mt)?;
    } else {
        d.set_symlink_times(&path, at, mt)?;
    }
    Ok(())
}

fn path_link(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (old_fd, old_flags, new_fd) = (a[0] as u32, a[1] as u32, a[4] as u32);
    let old = read_path(cx, a[2], a[3])?;
    let new = read_path(cx, a[5], a[6])?;
    if old_flags & lookupflags::SYMLINK_FOLLOW != 0 {
        // Following the source symlink is not supported by the sandboxed
        // resolver (and not by every host).
        return Err(Errno::Inval.into());
    }
    let ctx = cx.ctx();
    dir_of(ctx, old_fd, rights::PATH_LINK_SOURCE)?;
    dir_of(ctx, new_fd, rights::PATH_LINK_TARGET)?;
    let src = ctx.fds[&old_fd].dir()?;
    let dst = ctx.fds[&new_fd].dir()?;
    src.hard_link(&old, dst, &new)?;
    Ok(())
}

fn path_open(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, dirflags, of, req_base, req_inh, fdfl, out) = (
        a[0] as u32,
        a[1] as u32,
        a[4] as u16,
        a[5],
        a[6],
        a[7] as u16,
        a[8] as u32,
    );
    let path = read_path(cx, a[2], a[3])?;
    let mut needed = rights::PATH_OPEN;
    if of & oflags::CREAT != 0 {
        needed |= rights::PATH_CREATE_FILE;
    }
    let ctx = cx.ctx();
    let parent = dir_of(ctx, fd, needed)?;
    // O_TRUNC needs `path_filestat_set_size` on the directory, but, as in
    // wasmtime, only a right the guest explicitly dropped with
    // fd_fdstat_set_rights is enforced: Go's os.Root opens its directory
    // without requesting that right and then creates files with O_TRUNC.
    if of & oflags::TRUNC != 0 && parent.dropped & rights::PATH_FILESTAT_SET_SIZE != 0 {
        return Err(Errno::Notcapable.into());
    }
    let base = req_base & parent.inheriting;
    let inheriting = req_inh & parent.inheriting;
    let d = parent.dir()?;
    let follow = if dirflags & lookupflags::SYMLINK_FOLLOW != 0 {
        FollowSymlinks::Yes
    } else {
        FollowSymlinks::No
    };

    let wants_write = base
        & (rights::FD_WRITE
            | rights::FD_ALLOCATE
            | rights::FD_FILESTAT_SET_SIZE
            | rights::FD_DATASYNC)
        != 0
        || fdfl & fdflags::APPEND != 0;
    let entry = if of & oflags::DIRECTORY != 0 {
        if of & (oflags::CREAT | oflags::TRUNC | oflags::EXCL) != 0 {
            return Err(Errno::Inval.into());
        }
        if wants_write {
            return Err(Errno::Isdir.into());
        }
        let path = path.as_str();
        let sub = match follow {
            FollowSymlinks::Yes => d.open_dir(path)?,
            FollowSymlinks::No => d.open_dir_nofollow(path)?,
        };
        FdEntry::new(
            Kind::Dir(sub),
            base & rights::DIRECTORY,
            inheriting & (rights::DIRECTORY | rights::REGULAR_FILE),
        )
    } else {
        let host_write = wants_write || of & (oflags::CREAT | oflags::TRUNC) != 0;
        let host_read = base & (rights::FD_READ | rights::FD_READDIR) != 0 || !host_write;
        let mut opts = OpenOptions::new();
        // O_APPEND goes in as a custom flag: std-style option checks
        // reject `append` together with `truncate`, which POSIX allows.
        let mut custom = 0;
        if fdfl & fdflags::APPEND != 0 {
            custom |= libc::O_APPEND;
        }
        if fdfl & fdflags::NONBLOCK != 0 {
            custom |= libc::O_NONBLOCK;
        }
        opts.read(host_read)
            .write(host_write)
            .truncate(of & oflags::TRUNC != 0)
            .create(of & oflags::CREAT != 0)
            .create_new(of & oflags::CREAT != 0 && of & oflags::EXCL != 0)
            .follow(follow)
            .maybe_dir(!host_write);
        if fdfl & fdflags::DSYNC != 0 {
            opts.dsync(true);
        }
        if fdfl & fdflags::SYNC != 0 {
            opts.sync(true);
        }
        if fdfl & fdflags::RSYNC != 0 {
            opts.rsync(true);
        }
        if custom != 0 {
            use cap_std::fs::OpenOptionsExt;
            opts.custom_flags(custom);
        }
        let file = d.open_with(&path, &opts)?;
        let st = rustix::fs::fstat(&file)?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            FdEntry::new(
                Kind::Dir(Dir::from_std_file(file.into_std())),
                base & rights::DIRECTORY,
                inheriting & (rights::DIRECTORY | rights::REGULAR_FILE),
            )
        } else {
            FdEntry::new(
                Kind::File(file),
                base & rights::REGULAR_FILE,
                inheriting & rights::REGULAR_FILE,
            )
        }
    };
    let new_fd = ctx.push(entry)?;
    cx.mem()?.write_u32(out, new_fd)?;
    Ok(())
}

fn path_readlink(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, buf, buf_len, out) = (a[0] as u32, a[3] as u32, a[4] as u32, a[5] as u32);
    let path = read_path(cx, a[1], a[2])?;
    let d = dir(cx.ctx(), fd, rights::PATH_READLINK)?;
    let target = d.read_link_contents(&path)?;
    let bytes = target.as_os_str().as_bytes();
    let n = bytes.len().min(buf_len as usize);
    let mut mem = cx.mem()?;
    mem.write(buf, &bytes[..n])?;
    mem.write_u32(out, n as u32)?;
    Ok(())
}

fn path_remove_directory(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let path = read_path(cx, a[1], a[2])?;
    let d = dir(cx.ctx(), a[0] as u32, rights::PATH_REMOVE_DIRECTORY)?;
    d.remove_dir(&path)?;
    Ok(())
}

fn path_rename(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (old_fd, new_fd) = (a[0] as u32, a[3] as u32);
    let old = read_path(cx, a[1], a[2])?;
    let new = read_path(cx, a[4], a[5])?;
    let ctx = cx.ctx();
    dir_of(ctx, old_fd, rights::PATH_RENAME_SOURCE)?;
    dir_of(ctx, new_fd, rights::PATH_RENAME_TARGET)?;
    let src = ctx.fds[&old_fd].dir()?;
    let dst = ctx.fds[&new_fd].dir()?;
    src.rename(&old, dst, &new)?;
    Ok(())
}

fn path_symlink(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let fd = a[2] as u32;
    let target = {
        let mem = cx.mem()?;
        mem.string(a[0] as u32, a[1] as u32)?
    };
    let link = read_path(cx, a[3], a[4])?;
    if target.starts_with('/') {
        // An absolute target could never resolve inside the sandbox.
        return Err(Errno::Perm.into());
    }
    let d = dir(cx.ctx(), fd, rights::PATH_SYMLINK)?;
    d.symlink_contents(&target, &link)?;
    Ok(())
}

fn path_unlink_file(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let path = read_path(cx, a[1], a[2])?;
    let d = dir(cx.ctx(), a[0] as u32, rights::PATH_UNLINK_FILE)?;
    d.remove_file_or_symlink(&path)?;
    Ok(())
}
