//! `sched_yield`.

use crate::errno::SysResult;
use crate::{Cx, Registrar};

pub(crate) fn add<T: 'static>(r: &mut Registrar<'_, T>) -> anyhow::Result<()> {
    r.func("sched_yield", "", sched_yield::<T>)
}

fn sched_yield<T>(_cx: &mut Cx<'_, '_, T>, _a: &[u64]) -> SysResult {
    std::thread::yield_now();
    Ok(())
}
