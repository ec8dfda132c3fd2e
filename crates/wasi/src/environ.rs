//! `environ_get`, `environ_sizes_get`.

use crate::args::{write_sizes, write_strings};
use crate::errno::SysResult;
use crate::{Cx, Registrar};

pub(crate) fn add<T: 'static>(r: &mut Registrar<'_, T>) -> anyhow::Result<()> {
    r.func("environ_get", "ii", environ_get::<T>)?;
    r.func("environ_sizes_get", "ii", environ_sizes_get::<T>)?;
    Ok(())
}

fn environ_get<T>(cx: &mut Cx<'_, '_, T>, a: &[u64]) -> SysResult {
    let env = cx.ctx().env.clone();
    write_strings(cx, env, a[0] as u32, a[1] as u32)
}

fn environ_sizes_get<T>(cx: &mut Cx<'_, '_, T>, a: &[u64]) -> SysResult {
    let env = cx.ctx().env.clone();
    write_sizes(cx, &env, a[0] as u32, a[1] as u32)
}
