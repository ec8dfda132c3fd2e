//! `random_get`: bytes from the host's cryptographic generator.

use crate::errno::SysResult;
use crate::{Cx, GetCtx, Registrar};
use cap_rand::RngCore;

pub(crate) fn add<T: 'static, G: GetCtx<T>>(r: &mut Registrar<'_, T, G>) -> anyhow::Result<()> {
    r.func::<(i32, i32)>("random_get", random_get)
}

fn random_get(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let (ptr, len) = (a[0] as u32, a[1] as u32);
    let mut mem = cx.mem()?;
    let buf = mem.slice_mut(ptr, len)?;
    cap_rand::thread_rng(cap_rand::ambient_authority()).fill_bytes(buf);
    Ok(())
}
