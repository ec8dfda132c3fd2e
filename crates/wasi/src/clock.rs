//! `clock_res_get`, `clock_time_get`.
//!
//! All four WASI clocks map to the host's `clock_gettime` clocks; times are
//! nanoseconds (realtime: since the Unix epoch).

use crate::errno::{Errno, SysResult};
use crate::types::clockid;
use crate::{Cx, Registrar};
use rustix::time::{ClockId, Timespec};

pub(crate) fn add<T: 'static>(r: &mut Registrar<'_, T>) -> anyhow::Result<()> {
    r.func("clock_res_get", "ii", clock_res_get::<T>)?;
    r.func("clock_time_get", "iIi", clock_time_get::<T>)?;
    Ok(())
}

fn host_clock(id: u32) -> Result<ClockId, Errno> {
    Ok(match id {
        clockid::REALTIME => ClockId::Realtime,
        clockid::MONOTONIC => ClockId::Monotonic,
        clockid::PROCESS_CPUTIME_ID => ClockId::ProcessCPUTime,
        clockid::THREAD_CPUTIME_ID => ClockId::ThreadCPUTime,
        _ => return Err(Errno::Inval),
    })
}

fn nanos(t: Timespec) -> u64 {
    (t.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(t.tv_nsec as u64)
}

/// The current time of WASI clock `id`, in nanoseconds.
pub(crate) fn now(id: u32) -> Result<u64, Errno> {
    Ok(nanos(rustix::time::clock_gettime(host_clock(id)?)))
}

fn clock_res_get<T>(cx: &mut Cx<'_, '_, T>, a: &[u64]) -> SysResult {
    let res = nanos(rustix::time::clock_getres(host_clock(a[0] as u32)?)).max(1);
    cx.mem()?.write_u64(a[1] as u32, res)?;
    Ok(())
}

fn clock_time_get<T>(cx: &mut Cx<'_, '_, T>, a: &[u64]) -> SysResult {
    let t = now(a[0] as u32)?;
    cx.mem()?.write_u64(a[2] as u32, t)?;
    Ok(())
}
