//! `proc_exit`, `proc_raise`.

use crate::errno::{Errno, SysError, SysResult};
use crate::{Cx, I32Exit, Registrar};

pub(crate) fn add<T: 'static>(r: &mut Registrar<'_, T>) -> anyhow::Result<()> {
    r.func("proc_exit", "i", proc_exit::<T>)?;
    r.func("proc_raise", "i", proc_raise::<T>)?;
    Ok(())
}

/// Unwinds the guest with an [`I32Exit`] error that the embedder can
/// downcast to get the exit status.
fn proc_exit<T>(_cx: &mut Cx<'_, '_, T>, a: &[u64]) -> SysResult {
    Err(SysError::Trap(I32Exit(a[0] as u32 as i32).into()))
}

/// Signals are not part of WASI's model; `proc_raise` was removed from
/// later snapshots. Always `ENOSYS`.
fn proc_raise<T>(_cx: &mut Cx<'_, '_, T>, _a: &[u64]) -> SysResult {
    Err(Errno::Nosys.into())
}
