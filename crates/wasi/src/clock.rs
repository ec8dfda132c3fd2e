//! `clock_res_get`, `clock_time_get`.
//!
//! All four WASI clocks map to the host's `clock_gettime` clocks; times are
//! nanoseconds (realtime: since the Unix epoch).

use crate::errno::{Errno, SysResult};
use crate::types::clockid;
use crate::{Cx, GetCtx, Registrar};
use rustix::time::{ClockId, Timespec};

pub(crate) fn add<T: 'static, G: GetCtx<T>>(r: &mut Registrar<'_, T, G>) -> anyhow::Result<()> {
    r.func::<(i32, i32)>("clock_res_get", clock_res_get)?;
    r.func::<(i32, i64, i32)>("clock_time_get", clock_time_get)?;
    Ok(())
}

#[inline]
fn host_clock(id: u32) -> Result<ClockId, Errno> {
    Ok(match id {
        clockid::REALTIME => ClockId::Realtime,
        clockid::MONOTONIC => ClockId::Monotonic,
        clockid::PROCESS_CPUTIME_ID => ClockId::ProcessCPUTime,
        clockid::THREAD_CPUTIME_ID => ClockId::ThreadCPUTime,
        _ => return Err(Errno::Inval),
    })
}

#[inline]
fn nanos(t: Timespec) -> u64 {
    (t.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(t.tv_nsec as u64)
}

/// The current time of WASI clock `id`, in nanoseconds.
#[inline]
pub(crate) fn now(id: u32) -> Result<u64, Errno> {
    Ok(nanos(rustix::time::clock_gettime(host_clock(id)?)))
}

fn clock_res_get(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let res = nanos(rustix::time::clock_getres(host_clock(a[0] as u32)?)).max(1);
    cx.mem()?.write_u64(a[1] as u32, res)?;
    Ok(())
}

#[inline]
fn clock_time_get(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let t = now(a[0] as u32)?;
    cx.mem()?.write_u64(a[2] as u32, t)?;
    Ok(())
}
