//! `environ_get`, `environ_sizes_get`.

use crate::args::{write_sizes, write_strings};
use crate::errno::SysResult;
use crate::{Cx, GetCtx, Registrar};

pub(crate) fn add<T: 'static, G: GetCtx<T>>(r: &mut Registrar<'_, T, G>) -> anyhow::Result<()> {
    r.func::<(i32, i32)>("environ_get", environ_get)?;
    r.func::<(i32, i32)>("environ_sizes_get", environ_sizes_get)?;
    Ok(())
}

fn environ_get(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let env = cx.ctx().env.clone();
    write_strings(cx, env, a[0] as u32, a[1] as u32)
}

fn environ_sizes_get(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let env = cx.ctx().env.clone();
    write_sizes(cx, &env, a[0] as u32, a[1] as u32)
}
