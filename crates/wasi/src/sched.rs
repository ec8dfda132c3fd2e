//! `sched_yield`.

use crate::errno::SysResult;
use crate::{Cx, GetCtx, Registrar};

pub(crate) fn add<T: 'static, G: GetCtx<T>>(r: &mut Registrar<'_, T, G>) -> anyhow::Result<()> {
    r.func::<()>("sched_yield", sched_yield)
}

fn sched_yield(_cx: &mut Cx<'_>, _a: &[u64]) -> SysResult {
    std::thread::yield_now();
    Ok(())
}
