//! `sock_accept`, `sock_recv`, `sock_send`, `sock_shutdown` on preopened
//! (listening) sockets and the connections accepted from them. WASI
//! preview1 cannot create sockets; calls on other descriptors fail with
//! `ENOTSOCK` (or `EBADF` for a closed descriptor).

use crate::ctx::{FdEntry, Kind};
use crate::errno::{Errno, SysResult};
use crate::types::{
    RIFLAGS_RECV_PEEK, RIFLAGS_RECV_WAITALL, SDFLAGS_RD, SDFLAGS_WR, fdflags, rights,
};
use crate::{Cx, GetCtx, Registrar, WasiCtx};
use rustix::net::{RecvFlags, SendFlags, Shutdown};

pub(crate) fn add<T: 'static, G: GetCtx<T>>(r: &mut Registrar<'_, T, G>) -> anyhow::Result<()> {
    r.func::<(i32, i32, i32)>("sock_accept", sock_accept)?;
    r.func::<(i32, i32, i32, i32, i32, i32)>("sock_recv", sock_recv)?;
    r.func::<(i32, i32, i32, i32, i32)>("sock_send", sock_send)?;
    r.func::<(i32, i32)>("sock_shutdown", sock_shutdown)?;
    Ok(())
}

fn sock_accept(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, flags, out) = (a[0] as u32, a[1] as u16, a[2] as u32);
    if flags & !fdflags::NONBLOCK != 0 {
        return Err(Errno::Inval.into());
    }
    let ctx = cx.ctx();
    let e = ctx.get(fd)?;
    let Kind::Listener(l) = &e.kind else {
        return Err(Errno::Notsock.into());
    };
    e.check(rights::SOCK_ACCEPT)?;
    let (stream, _) = l.accept()?;
    stream.set_nonblocking(flags & fdflags::NONBLOCK != 0)?;
    let new_fd = ctx.push(FdEntry::new(
        Kind::Stream(stream),
        rights::SOCKET & !rights::SOCK_ACCEPT,
        0,
    ))?;
    cx.mem()?.write_u32(out, new_fd)?;
    Ok(())
}

fn stream(cx: &mut Cx<'_>, fd: u32, needed: u64) -> Result<std::net::TcpStream, Errno> {
    Ok(stream_ref(cx.ctx(), fd, needed)?.try_clone()?)
}

/// The TCP stream `fd`, which must hold the rights in `needed`.
fn stream_ref(ctx: &mut WasiCtx, fd: u32, needed: u64) -> Result<&std::net::TcpStream, Errno> {
    let e = ctx.get(fd)?;
    match &e.kind {
        Kind::Stream(s) => {
            e.check(needed)?;
            Ok(s)
        }
        Kind::Listener(_) => Err(Errno::Notconn),
        _ => Err(Errno::Notsock),
    }
}

fn sock_recv(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, iovs, count, riflags, out_len, out_flags) = (
        a[0] as u32,
        a[1] as u32,
        a[2] as u32,
        a[3] as u16,
        a[4] as u32,
        a[5] as u32,
    );
    if riflags & !(RIFLAGS_RECV_PEEK | RIFLAGS_RECV_WAITALL) != 0 {
        return Err(Errno::Inval.into());
    }
    let iovs = cx.mem()?.iovecs(iovs, count)?;
    let s = stream(cx, fd, rights::FD_READ)?;
    let mut flags = RecvFlags::empty();
    if riflags & RIFLAGS_RECV_PEEK != 0 {
        flags |= RecvFlags::PEEK;
    }
    if riflags & RIFLAGS_RECV_WAITALL != 0 {
        flags |= RecvFlags::WAITALL;
    }
    let mut buf = vec![0u8; crate::memory::total_len(&iovs)];
    let (n, _) = rustix::net::recv(&s, &mut buf, flags)?;
    let mut mem = cx.mem()?;
    mem.scatter(&iovs, &buf[..n])?;
    mem.write_u32(out_len, n as u32)?;
    mem.write_u16(out_flags, 0)?;
    Ok(())
}

fn sock_send(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, iovs, count, out) = (a[0] as u32, a[1] as u32, a[2] as u32, a[4] as u32);
    let n = cx.with_gathered(iovs, count, |ctx, data| {
        let s = stream_ref(ctx, fd, rights::FD_WRITE)?;
        Ok(rustix::net::send(s, data, SendFlags::NOSIGNAL)?)
    })?;
    cx.mem()?.write_u32(out, n as u32)?;
    Ok(())
}

fn sock_shutdown(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (fd, how) = (a[0] as u32, a[1] as u8);
    let how = match how {
        SDFLAGS_RD => Shutdown::Read,
        SDFLAGS_WR => Shutdown::Write,
        x if x == SDFLAGS_RD | SDFLAGS_WR => Shutdown::Both,
        _ => return Err(Errno::Inval.into()),
    };
    let s = stream(cx, fd, rights::SOCK_SHUTDOWN)?;
    rustix::net::shutdown(&s, how)?;
    Ok(())
}
