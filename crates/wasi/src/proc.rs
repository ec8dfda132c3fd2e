//! `proc_exit`, `proc_raise`.

use crate::errno::{Errno, SysError, SysResult};
use crate::{Cx, GetCtx, I32Exit, Registrar};

pub(crate) fn add<T: 'static, G: GetCtx<T>>(r: &mut Registrar<'_, T, G>) -> anyhow::Result<()> {
    r.func_no_result("proc_exit", proc_exit)?;
    r.func::<(i32,)>("proc_raise", proc_raise)?;
    Ok(())
}

/// Unwinds the guest with an [`I32Exit`] error that the embedder can
/// downcast to get the exit status.
fn proc_exit(_cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    Err(SysError::Trap(I32Exit(a[0] as u32 as i32).into()))
}

/// Signals are not part of WASI's model; `proc_raise` was removed from
/// later snapshots. Always `ENOSYS`.
fn proc_raise(_cx: &mut Cx<'_>, _a: &[u64]) -> SysResult {
    Err(Errno::Nosys.into())
}
