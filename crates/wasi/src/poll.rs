//! `poll_oneoff`: wait for clocks and descriptor readiness.
//!
//! Regular files, captured/virtual stdio and output streams are always
//! ready; inherited stdin and sockets are polled on the host with
//! `poll(2)`; clock subscriptions become the timeout. At least one event is
//! reported unless every subscription is a clock that has not fired.

use crate::clock;
use crate::ctx::{InputStream, Kind};
use crate::errno::{Errno, SysResult};
use crate::types::{EVENTRWFLAGS_HANGUP, SUBCLOCKFLAGS_ABSTIME, clockid, eventtype, rights};
use crate::{Cx, GetCtx, Registrar};
use rustix::event::{PollFd, PollFlags};
use rustix::fd::{AsFd, BorrowedFd};

pub(crate) fn add<T: 'static, G: GetCtx<T>>(r: &mut Registrar<'_, T, G>) -> anyhow::Result<()> {
    r.func::<(i32, i32, i32, i32)>("poll_oneoff", poll_oneoff)
}

#[derive(Debug)]
struct Event {
    userdata: u64,
    error: Errno,
    kind: u8,
    nbytes: u64,
    flags: u16,
}

enum Sub {
    /// A clock: fires at `deadline` (monotonic nanoseconds).
    Clock { userdata: u64, deadline: u64 },
    /// A host descriptor to poll (index into the host poll list).
    Host {
        userdata: u64,
        kind: u8,
        index: usize,
    },
}

fn poll_oneoff(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (in_ptr, out_ptr, nsubs, out_n) = (a[0] as u32, a[1] as u32, a[2] as u32, a[3] as u32);
    if nsubs == 0 {
        return Err(Errno::Inval.into());
    }
    // Read the subscriptions.
    let raw: Vec<[u8; 48]> = {
        let mem = cx.mem()?;
        let bytes = mem.slice(in_ptr, nsubs.checked_mul(48).ok_or(Errno::Fault)?)?;
        bytes
            .chunks_exact(48)
            .map(|c| c.try_into().expect("48 bytes"))
            .collect()
    };
    let u64_at = |s: &[u8; 48], o: usize| u64::from_le_bytes(s[o..o + 8].try_into().unwrap());
    let u32_at = |s: &[u8; 48], o: usize| u32::from_le_bytes(s[o..o + 4].try_into().unwrap());

    let mut ready: Vec<Event> = Vec::new();
    let mut subs: Vec<Sub> = Vec::new();
    // Host descriptors to poll: (fd number in the guest table, flags).
    let mut host: Vec<(u32, PollFlags)> = Vec::new();
    let now_mono = clock::now(clockid::MONOTONIC)?;
    let ctx = cx.ctx();
    for s in &raw {
        let userdata = u64_at(s, 0);
        let tag = s[8];
        match tag {
            eventtype::CLOCK => {
                let id = u32_at(s, 16);
                let timeout = u64_at(s, 24);
                let flags = u16::from_le_bytes([s[40], s[41]]);
                let deadline = match clock::now(id) {
                    Err(e) => {
                        ready.push(Event {
                            userdata,
                            error: e,
                            kind: tag,
                            nbytes: 0,
                            flags: 0,
                        });
                        continue;
                    }
                    Ok(now) => {
                        let remaining = if flags & SUBCLOCKFLAGS_ABSTIME != 0 {
                            timeout.saturating_sub(now)
                        } else {
                            timeout
                        };
                        now_mono.saturating_add(remaining)
                    }
                };
                subs.push(Sub::Clock { userdata, deadline });
            }
            eventtype::FD_READ | eventtype::FD_WRITE => {
                let fd = u32_at(s, 16);
                let mut ev = Event {
                    userdata,
                    error: Errno::Success,
                    kind: tag,
                    nbytes: 0,
                    flags: 0,
                };
                let e = match ctx.get(fd) {
                    Ok(e) => e,
                    Err(err) => {
                        ev.error = err;
                        ready.push(ev);
                        continue;
                    }
                };
                if e.check(rights::POLL_FD_READWRITE).is_err() {
                    ev.error = Errno::Notcapable;
                    ready.push(ev);
                    continue;
                }
                let read = tag == eventtype::FD_READ;
                match &mut e.kind {
                    Kind::File(f) => {
                        if read {
                            let size = rustix::fs::fstat(&*f)
                                .map(|s| s.st_size as u64)
                                .unwrap_or(0);
                            let pos = rustix::fs::seek(&*f, rustix::fs::SeekFrom::Current(0))
                                .unwrap_or(0);
                            ev.nbytes = size.saturating_sub(pos);
                        }
                        ready.push(ev);
                    }
                    Kind::Dir(_) => {
                        ev.error = Errno::Badf;
                        ready.push(ev);
                    }
                    Kind::Stdin(InputStream::Inherit) if read => {
                        subs.push(Sub::Host {
                            userdata,
                            kind: tag,
                            index: host.len(),
                        });
                        host.push((0, PollFlags::IN));
                    }
                    Kind::Stdin(InputStream::Bytes(c)) if read => {
                        ev.nbytes = (c.get_ref().len() as u64).saturating_sub(c.position());
                        ready.push(ev);
                    }
                    Kind::Stdin(InputStream::Null) if read => {
                        ev.flags = EVENTRWFLAGS_HANGUP;
                        ready.push(ev);
                    }
                    Kind::Stdout(_) if !read => ready.push(ev),
                    Kind::Stream(_) | Kind::Listener(_) => {
                        subs.push(Sub::Host {
                            userdata,
                            kind: tag,
                            index: host.len(),
                        });
                        host.push((fd, if read { PollFlags::IN } else { PollFlags::OUT }));
                    }
                    _ => {
                        ev.error = Errno::Badf;
                        ready.push(ev);
                    }
                }
            }
            _ => return Err(Errno::Inval.into()),
        }
    }

    // Wait, unless something is ready already.
    let earliest = subs
        .iter()
        .filter_map(|s| match s {
            Sub::Clock { deadline, .. } => Some(*deadline),
            _ => None,
        })
        .min();
    let timeout_ns = if !ready.is_empty() {
        Some(0)
    } else {
        earliest.map(|d| d.saturating_sub(now_mono))
    };
    let mut revents: Vec<PollFlags> = vec![PollFlags::empty(); host.len()];
    if !host.is_empty() {
        let stdin = rustix::stdio::stdin();
        let fds: Vec<BorrowedFd<'_>> = host
            .iter()
            .map(|(fd, _)| {
                if *fd == 0 {
                    return stdin;
                }
                match &ctx.fds[fd].kind {
                    Kind::Stream(s) => s.as_fd(),
                    Kind::Listener(l) => l.as_fd(),
                    _ => unreachable!("only sockets are polled"),
                }
            })
            .collect();
        let mut pfds: Vec<PollFd<'_>> = fds
            .iter()
            .zip(&host)
            .map(|(fd, (_, flags))| PollFd::from_borrowed_fd(*fd, *flags))
            .collect();
        let ts = timeout_ns.map(|ns| rustix::time::Timespec {
            tv_sec: (ns / 1_000_000_000) as i64,
            tv_nsec: (ns % 1_000_000_000) as _,
        });
        loop {
            match rustix::event::poll(&mut pfds, ts.as_ref()) {
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(_) => break,
            }
        }
        for (r, p) in revents.iter_mut().zip(&pfds) {
            *r = p.revents();
        }
    } else if let Some(ns) = timeout_ns
        && ns > 0
    {
        std::thread::sleep(std::time::Duration::from_nanos(ns));
    }

    let now = clock::now(clockid::MONOTONIC)?;
    for s in &subs {
        match *s {
            Sub::Clock { userdata, deadline } => {
                if deadline <= now {
                    ready.push(Event {
                        userdata,
                        error: Errno::Success,
                        kind: eventtype::CLOCK,
                        nbytes: 0,
                        flags: 0,
                    });
                }
            }
            Sub::Host {
                userdata,
                kind,
                index,
            } => {
                let r = revents[index];
                if r.is_empty() {
                    continue;
                }
                let mut ev = Event {
                    userdata,
                    error: Errno::Success,
                    kind,
                    nbytes: 0,
                    flags: 0,
                };
                if r.contains(PollFlags::HUP) {
                    ev.flags = EVENTRWFLAGS_HANGUP;
                }
                if r.contains(PollFlags::NVAL) {
                    ev.error = Errno::Badf;
                } else if r.contains(PollFlags::ERR) {
                    ev.error = Errno::Io;
                }
                if kind == eventtype::FD_READ {
                    ev.nbytes = 1;
                }
                ready.push(ev);
            }
        }
    }

    let mut mem = cx.mem()?;
    let n = ready.len().min(nsubs as usize);
    for (i, ev) in ready.iter().take(n).enumerate() {
        let mut b = [0u8; 32];
        b[0..8].copy_from_slice(&ev.userdata.to_le_bytes());
        b[8..10].copy_from_slice(&(ev.error as u16).to_le_bytes());
        b[10] = ev.kind;
        b[16..24].copy_from_slice(&ev.nbytes.to_le_bytes());
        b[24..26].copy_from_slice(&ev.flags.to_le_bytes());
        mem.write(out_ptr + 32 * i as u32, &b)?;
    }
    mem.write_u32(out_n, n as u32)?;
    Ok(())
}
