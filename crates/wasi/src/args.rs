//! `args_get`, `args_sizes_get`.

use crate::errno::SysResult;
use crate::{Cx, GetCtx, Registrar};

pub(crate) fn add<T: 'static, G: GetCtx<T>>(r: &mut Registrar<'_, T, G>) -> anyhow::Result<()> {
    r.func::<(i32, i32)>("args_get", args_get)?;
    r.func::<(i32, i32)>("args_sizes_get", args_sizes_get)?;
    Ok(())
}

/// Writes `strings` (each NUL-terminated) as a pointer array at `ptrs` and
/// the bytes at `buf`; shared with `environ_get`.
pub(crate) fn write_strings(
    cx: &mut Cx<'_>,
    strings: Vec<Vec<u8>>,
    ptrs: u32,
    buf: u32,
) -> SysResult {
    let mut mem = cx.mem()?;
    let mut at = buf;
    for (i, s) in strings.iter().enumerate() {
        mem.write_u32(ptrs + 4 * i as u32, at)?;
        mem.write(at, s)?;
        at += s.len() as u32;
    }
    Ok(())
}

/// Writes the count and total size of `strings`.
pub(crate) fn write_sizes(
    cx: &mut Cx<'_>,
    strings: &[Vec<u8>],
    count_ptr: u32,
    size_ptr: u32,
) -> SysResult {
    let size: usize = strings.iter().map(Vec::len).sum();
    let mut mem = cx.mem()?;
    mem.write_u32(count_ptr, strings.len() as u32)?;
    mem.write_u32(size_ptr, size as u32)?;
    Ok(())
}

fn args_get(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let args = cx.ctx().args.clone();
    write_strings(cx, args, a[0] as u32, a[1] as u32)
}

fn args_sizes_get(cx: &mut Cx<'_>, a: &[u64]) -> SysResult {
    let args = cx.ctx().args.clone();
    write_sizes(cx, &args, a[0] as u32, a[1] as u32)
}
