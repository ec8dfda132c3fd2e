//! `random_get`: bytes from the host's cryptographic generator.

use crate::errno::SysResult;
use crate::{Cx, Registrar};
use cap_rand::RngCore;

pub(crate) fn add<T: 'static>(r: &mut Registrar<'_, T>) -> anyhow::Result<()> {
    r.func("random_get", "ii", random_get::<T>)
}

fn random_get<T>(cx: &mut Cx<'_, '_, T>, a: &[u64]) -> SysResult {
    let (ptr, len) = (a[0] as u32, a[1] as u32);
    let mut mem = cx.mem()?;
    let buf = mem.slice_mut(ptr, len)?;
    cap_rand::thread_rng(cap_rand::ambient_authority()).fill_bytes(buf);
    Ok(())
}
