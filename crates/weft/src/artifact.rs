//! Precompiled modules: the file format `weft compile -o` writes, the code
//! cache stores, and `Module::deserialize` reads.
//!
//! The format is laid out to be used in place from a file mapping: code
//! and memory images sit in page-aligned sections, the code exactly as it
//! runs (functions at their final offsets, relocations inside the code
//! already resolved), and the tables the runtime consults are fixed-width
//! little-endian arrays that load with bulk copies.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "WEFTCWSM"
//! 8       4     format version (u32 LE), FORMAT_VERSION
//! 12      4     fingerprint length F (u32 LE)
//! 16      F     fingerprint: "key=value\n" lines (UTF-8), see below
//!         ..    zeros up to a multiple of 8: H
//! H       8     total length of the artifact (u64 LE)
//! H+8     4     CRC-32 of every byte of the artifact except these four
//! H+12    4     zero
//! H+16    80    sections: (offset u64, length u64) of, in this order,
//!               metadata, unwind info, module bytes, code, memory images
//!         ..    the sections, in that order; code and images start at
//!               multiples of 4096 and are padded to one
//!
//! metadata (all u32 LE):
//!   F = defined functions, T = trampolines, R = trap entries,
//!   A = address map entries
//!   (F + T) x [start, length, function index (u32::MAX: trampoline),
//!              trap entries, address map entries]   in code order
//!   T x type index of the trampoline
//!   R x code offset, then R x trap code (u8), zero-padded to 4
//!   A x (code offset, module offset)
//!   u64 length + postcard: call sites and stack maps (sparse), the
//!   relocations left for load time (libcalls, absolute addresses), and
//!   where each defined memory's image lies in the images section
//! unwind info: postcard, one Option<UnwindInfo> per function then per
//!   trampoline (decoded only for debuggers)
//! memory images: per defined memory with data, its initial contents from
//!   address 0 to the end of its last segment (see `vm::memory_image`),
//!   mapped copy-on-write into instances of a module loaded from a file
//! ```
//!
//! The fingerprint names everything that changes generated code: weft's
//! version and a hash of the sources of the compiler crates
//! (`build.rs`), the enabled wasm features, the target triple, every
//! Cranelift flag, the detected CPU features and weft's code generation
//! options. Loading compares it line by line with the engine's own, so a
//! mismatch says which setting differs. The checksum catches truncated or
//! damaged files before anything else is interpreted (CRC-32: every burst
//! error up to 32 bits, and so every flipped bit, is detected; it guards
//! against accidents, not tampering, at memory speed).
//!
//! The module's bytes are kept so that loading rebuilds the module
//! description (types, imports, exports, segments) with the ordinary
//! section parser and validator: only function bodies, which are neither
//! validated nor compiled again, are skipped.

use crate::vm::{CompiledParts, FuncLoc};
use crate::{Engine, Result};
use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use weft_cranelift::{CompiledFunction, LibCall, Reloc, UnwindInfo};
use weft_environ::{ModuleInfo, Trap};

/// The first bytes of every precompiled module.
pub(crate) const MAGIC: &[u8; 8] = b"WEFTCWSM";

/// Bumped whenever the layout above or the metadata changes shape.
pub(crate) const FORMAT_VERSION: u32 = 2;

/// Alignment of the code and image sections in the file (and so of their
/// mappings); a host with larger pages copies instead of mapping.
pub(crate) const SECTION_ALIGN: usize = 4096;

const NUM_SECTIONS: usize = 5;

/// The sparse and rare parts of the metadata.
#[derive(Serialize, Deserialize)]
struct Extra {
    /// (function or trampoline index in code order, its calls with
    /// exception handlers: (return offset, frame offset, [(tag offset,
    /// landing offset, context sp offset)]))
    call_sites: Vec<(u32, Vec<CallSiteMeta>)>,
    /// (index in code order, [(return offset, frame size, slots)])
    stack_maps: Vec<(u32, Vec<(u32, u32, Vec<u32>)>)>,
    relocs: Vec<LoadReloc>,
    /// Per defined memory, (offset in the images section, length) of its
    /// image; `None` when the module's data is copied at instantiation.
    images: Option<Vec<Option<(u64, u64)>>>,
}

type CallSiteMeta = (u32, u32, Vec<(Option<u32>, u32, Option<u32>)>);

/// A relocation that depends on where the code lands: applied at load.
#[derive(Serialize, Deserialize, Clone, Copy)]
pub(crate) struct LoadReloc {
    /// Offset of the patch in the code section.
    pub site: u32,
    pub kind: Reloc,
    pub target: LoadTarget,
    pub addend: i64,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
pub(crate) enum LoadTarget {
    /// An offset in the code section.
    Code(u32),
    LibCall(LibCall),
}

/// The engine's fingerprint: what a precompiled module must have been
/// built with to run on it.
pub(crate) fn fingerprint(engine: &Engine) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: &str| {
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('\n');
    };
    line("weft.version", env!("CARGO_PKG_VERSION"));
    line("weft.source", env!("WEFT_SOURCE_HASH"));
    line(
        "wasm.features",
        &format!("{:#x}", engine.config().features.bits()),
    );
    for (k, v) in engine.inner.compiler.fingerprint() {
        line(&k, &v);
    }
    out
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn pad_to(out: &mut Vec<u8>, align: usize) {
    out.resize(out.len().next_multiple_of(align), 0);
}

fn len_u32(n: usize, what: &str) -> Result<u32> {
    u32::try_from(n).map_err(|_| anyhow!("too many {what} for a precompiled module"))
}

/// Writes the artifact for module bytes `wasm` (described by `info`)
/// compiled into `parts`.
pub(crate) fn serialize(
    engine: &Engine,
    wasm: &[u8],
    info: &ModuleInfo,
    parts: &CompiledParts,
) -> Result<Vec<u8>> {
    use crate::vm::module as m;
    let num_imported = info.num_imported_funcs;
    let num_funcs = parts.funcs.len();
    let all: Vec<(u32, &CompiledFunction)> = parts
        .funcs
        .iter()
        .enumerate()
        .map(|(i, f)| (num_imported + i as u32, f))
        .chain(parts.trampolines.iter().map(|(_, f)| (u32::MAX, f)))
        .collect();
    let (starts, code_len) = m::layout(all.iter().map(|(_, f)| *f));

    // The code as it runs, with the relocations that do not depend on
    // its address resolved.
    let mut code = vec![0u8; code_len.max(1).next_multiple_of(SECTION_ALIGN)];
    let mut relocs = Vec::new();
    for ((_, f), start) in all.iter().zip(&starts) {
        code[*start..*start + f.code.len()].copy_from_slice(&f.code);
        for r in &f.relocs {
            if r.offset as usize + 4 > f.code.len() {
                bail!("relocation at {} outside its function", r.offset);
            }
            let site = start + r.offset as usize;
            let target = m::reloc_target_offset(r, *start, &starts, num_funcs, num_imported)?;
            match target {
                Some(t) if m::reloc_is_pc_relative(r.kind) => {
                    m::apply_reloc(&mut code, site, 0, r.kind, t, r.addend)?;
                }
                _ => relocs.push(LoadReloc {
                    site: len_u32(site, "code bytes")?,
                    kind: r.kind,
                    target: match (target, r.target) {
                        (Some(t), _) => LoadTarget::Code(len_u32(t, "code bytes")?),
                        (None, weft_cranelift::RelocTarget::LibCall(l)) => LoadTarget::LibCall(l),
                        (None, _) => unreachable!("only libcalls lie outside the code"),
                    },
                    addend: r.addend,
                }),
            }
        }
    }

    // Memory images, each page-aligned.
    let mut images = Vec::new();
    let image_table = crate::vm::memory_image::plan_images(info).map(|plans| {
        plans
            .iter()
            .map(|p| {
                p.as_ref().map(|(len, segs)| {
                    let off = images.len();
                    images.resize(off + *len as usize, 0);
                    for (o, d) in segs {
                        images[off + *o as usize..][..d.len()].copy_from_slice(d);
                    }
                    pad_to(&mut images, SECTION_ALIGN);
                    (off as u64, *len)
                })
            })
            .collect::<Vec<_>>()
    });

    // Metadata.
    let mut meta = Vec::new();
    let num_traps: usize = all.iter().map(|(_, f)| f.traps.len()).sum();
    let num_addr: usize = all.iter().map(|(_, f)| f.address_map.len()).sum();
    put_u32(&mut meta, len_u32(num_funcs, "functions")?);
    put_u32(&mut meta, len_u32(parts.trampolines.len(), "trampolines")?);
    put_u32(&mut meta, len_u32(num_traps, "trap sites")?);
    put_u32(&mut meta, len_u32(num_addr, "address map entries")?);
    for ((index, f), start) in all.iter().zip(&starts) {
        put_u32(&mut meta, *start as u32);
        put_u32(&mut meta, len_u32(f.code.len(), "code bytes")?);
        put_u32(&mut meta, *index);
        put_u32(&mut meta, f.traps.len() as u32);
        put_u32(&mut meta, f.address_map.len() as u32);
    }
    for (ty, _) in &parts.trampolines {
        put_u32(&mut meta, *ty);
    }
    for (_, f) in &all {
        for (o, _) in &f.traps {
            put_u32(&mut meta, *o);
        }
    }
    for (_, f) in &all {
        meta.extend(f.traps.iter().map(|(_, t)| t.as_u8()));
    }
    pad_to(&mut meta, 4);
    for (_, f) in &all {
        for (c, w) in &f.address_map {
            put_u32(&mut meta, *c);
            put_u32(&mut meta, *w);
        }
    }
    let extra = Extra {
        call_sites: all
            .iter()
            .enumerate()
            .filter(|(_, (_, f))| !f.call_sites.is_empty())
            .map(|(k, (_, f))| {
                let sites = f
                    .call_sites
                    .iter()
                    .map(|c| {
                        let hs = c.handlers.iter();
                        let hs = hs.map(|h| (h.tag, h.offset, h.context_sp_offset));
                        (c.ret, c.frame_offset, hs.collect())
                    })
                    .collect();
                (k as u32, sites)
            })
            .collect(),
        stack_maps: all
            .iter()
            .enumerate()
            .filter(|(_, (_, f))| !f.stack_maps.is_empty())
            .map(|(k, (_, f))| {
                let maps = f.stack_maps.iter();
                let maps = maps.map(|m| (m.ret, m.frame_size, m.slots.clone()));
                (k as u32, maps.collect())
            })
            .collect(),
        relocs,
        images: image_table,
    };
    let extra = postcard::to_stdvec(&extra).context("failed to encode module metadata")?;
    put_u64(&mut meta, extra.len() as u64);
    meta.extend_from_slice(&extra);
    let unwind: Vec<Option<&UnwindInfo>> = all.iter().map(|(_, f)| f.unwind.as_ref()).collect();
    let unwind = postcard::to_stdvec(&unwind).context("failed to encode unwind info")?;

    // Header, then the sections.
    let fp = fingerprint(engine);
    let mut out = Vec::with_capacity(
        128 + fp.len()
            + meta.len()
            + unwind.len()
            + wasm.len()
            + 2 * SECTION_ALIGN
            + code.len()
            + images.len(),
    );
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, FORMAT_VERSION);
    put_u32(&mut out, len_u32(fp.len(), "fingerprint bytes")?);
    out.extend_from_slice(fp.as_bytes());
    pad_to(&mut out, 8);
    let h = out.len();
    out.resize(h + 16 + 16 * NUM_SECTIONS, 0);
    let mut table = Vec::new();
    for (bytes, align) in [
        (&meta[..], 8),
        (&unwind[..], 1),
        (wasm, 1),
        (&code[..], SECTION_ALIGN),
        (&images[..], SECTION_ALIGN),
    ] {
        pad_to(&mut out, align);
        table.push((out.len() as u64, bytes.len() as u64));
        out.extend_from_slice(bytes);
    }
    let total = out.len() as u64;
    out[h..h + 8].copy_from_slice(&total.to_le_bytes());
    for (k, (off, len)) in table.iter().enumerate() {
        let at = h + 16 + 16 * k;
        out[at..at + 8].copy_from_slice(&off.to_le_bytes());
        out[at + 8..at + 16].copy_from_slice(&len.to_le_bytes());
    }
    let crc = checksum(&out, h);
    out[h + 8..h + 12].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// The CRC-32 of `bytes` without the checksum field at `h + 8`.
fn checksum(bytes: &[u8], h: usize) -> u32 {
    let mut c = crc32fast::Hasher::new();
    c.update(&bytes[..h + 8]);
    c.update(&bytes[h + 12..]);
    c.finalize()
}

/// Whether `bytes` start like a precompiled module.
pub(crate) fn is_precompiled(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// A little-endian reader over the artifact that fails cleanly at the end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| anyhow!("precompiled module is truncated (in its {what})"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }

    /// `n` u32 values, read in one pass.
    fn u32s(&mut self, n: usize, what: &str) -> Result<impl Iterator<Item = u32> + 'a> {
        let bytes = self.take(n.checked_mul(4).ok_or_else(|| damaged(what))?, what)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap())))
    }
}

fn damaged(what: &str) -> anyhow::Error {
    anyhow!("precompiled module is damaged ({what})")
}

/// Explains how the artifact's fingerprint differs from the engine's.
fn mismatch(theirs: &str, ours: &str) -> anyhow::Error {
    let parse = |s: &str| -> Vec<(String, String)> {
        s.lines()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (l.to_string(), String::new()),
            })
            .collect()
    };
    let (theirs, ours) = (parse(theirs), parse(ours));
    let mut diffs = Vec::new();
    for (k, v) in &ours {
        match theirs.iter().find(|(k2, _)| k2 == k) {
            Some((_, v2)) if v2 == v => {}
            Some((_, v2)) => diffs.push(format!("{k}: module {v2}, engine {v}")),
            None => diffs.push(format!("{k}: not recorded in the module, engine {v}")),
        }
    }
    for (k, v) in &theirs {
        if !ours.iter().any(|(k2, _)| k2 == k) {
            diffs.push(format!("{k}: module {v}, unknown to this engine"));
        }
    }
    let shown = diffs.len().min(5);
    let more = if diffs.len() > shown {
        format!(" (and {} more)", diffs.len() - shown)
    } else {
        String::new()
    };
    anyhow!(
        "precompiled module is incompatible with this engine (compile it again): {}{more}",
        diffs[..shown].join("; ")
    )
}

/// A checked artifact, borrowing its bytes: what loading needs.
pub(crate) struct Artifact<'a> {
    /// The module's bytes.
    pub wasm: &'a [u8],
    /// The code section: code laid out as it runs, then padding.
    pub code: &'a [u8],
    /// Offset of the code section in the artifact (a multiple of
    /// [`SECTION_ALIGN`]).
    pub code_offset: usize,
    /// Bytes of the code section in use (the end of the last function).
    pub code_len: usize,
    /// Defined functions, then trampolines, in code order (their
    /// `func_index` as stored: checked against the module by the loader).
    pub locs: Vec<FuncLoc>,
    pub traps: Vec<(u32, Trap)>,
    pub address_map: Vec<(u32, u32)>,
    /// How many of `locs` are functions.
    pub num_funcs: usize,
    /// The type index of each trampoline.
    pub tramp_types: Vec<u32>,
    pub relocs: Vec<LoadReloc>,
    /// Per defined memory, (offset in the artifact, length) of its image.
    pub images: Option<Vec<Option<(u64, u64)>>>,
    unwind: &'a [u8],
}

impl Artifact<'_> {
    /// The tables alone, no longer borrowing the artifact's bytes
    /// (`wasm`, `code` and the unwind info become empty).
    pub(crate) fn detach(self) -> Artifact<'static> {
        Artifact {
            wasm: &[],
            code: &[],
            unwind: &[],
            code_offset: self.code_offset,
            code_len: self.code_len,
            locs: self.locs,
            traps: self.traps,
            address_map: self.address_map,
            num_funcs: self.num_funcs,
            tramp_types: self.tramp_types,
            relocs: self.relocs,
            images: self.images,
        }
    }

    /// The unwind info of each of `locs` (for debuggers).
    pub(crate) fn unwind(&self) -> Result<Vec<Option<UnwindInfo>>> {
        let u: Vec<Option<UnwindInfo>> =
            postcard::from_bytes(self.unwind).map_err(|e| damaged(&format!("unwind info: {e}")))?;
        if u.len() != self.locs.len() {
            return Err(damaged("unwind info"));
        }
        Ok(u)
    }
}

/// Checks an artifact's format, fingerprint and checksum and reads its
/// tables. Nothing is copied but the tables.
pub(crate) fn parse<'a>(engine: &Engine, bytes: &'a [u8]) -> Result<Artifact<'a>> {
    if !is_precompiled(bytes) {
        bail!("not a weft precompiled module (bad magic bytes)");
    }
    let mut r = Reader { bytes, pos: 8 };
    let version = r.u32("header")?;
    if version != FORMAT_VERSION {
        bail!(
            "precompiled module has format version {version}, this weft reads version \
             {FORMAT_VERSION} (compile it again)"
        );
    }
    let fp_len = r.u32("header")? as usize;
    let theirs = std::str::from_utf8(r.take(fp_len, "fingerprint")?)
        .map_err(|_| damaged("fingerprint is not text"))?;
    let ours = fingerprint(engine);
    if theirs != ours {
        return Err(mismatch(theirs, &ours));
    }
    r.take(r.pos.next_multiple_of(8) - r.pos, "header")?;
    let h = r.pos;
    let total = r.u64("header")?;
    match usize::try_from(total) {
        Ok(t) if t == bytes.len() => {}
        Ok(t) if t > bytes.len() => bail!("precompiled module is truncated (in its sections)"),
        Err(_) => bail!("precompiled module is truncated (in its sections)"),
        Ok(_) => return Err(damaged("trailing bytes after the sections")),
    }
    let digest = r.u32("header")?;
    if checksum(bytes, h) != digest {
        return Err(damaged("checksum mismatch"));
    }
    r.u32("header")?;
    let mut sections = [&bytes[..0]; NUM_SECTIONS];
    let mut offsets = [0usize; NUM_SECTIONS];
    for (k, s) in sections.iter_mut().enumerate() {
        let off = r.u64("header")?;
        let len = r.u64("header")?;
        let range = usize::try_from(off)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(o, l)| Some(o..o.checked_add(l)?))
            .filter(|r| r.end <= bytes.len())
            .ok_or_else(|| damaged("section table"))?;
        offsets[k] = range.start;
        *s = &bytes[range];
    }
    let [meta, unwind, wasm, code, images] = sections;
    let code_offset = offsets[3];
    if !code_offset.is_multiple_of(SECTION_ALIGN) || !offsets[4].is_multiple_of(SECTION_ALIGN) {
        return Err(damaged("section alignment"));
    }

    let mut m = Reader {
        bytes: meta,
        pos: 0,
    };
    let num_funcs = m.u32("metadata")? as usize;
    let num_tramps = m.u32("metadata")? as usize;
    let num_traps = m.u32("metadata")? as usize;
    let num_addr = m.u32("metadata")? as usize;
    let num_locs = num_funcs
        .checked_add(num_tramps)
        .ok_or_else(|| damaged("metadata"))?;
    let mut locs = Vec::with_capacity(num_locs);
    let (mut traps_at, mut addr_at, mut end) = (0u32, 0u32, 0usize);
    let mut fields = m.u32s(
        num_locs.checked_mul(5).ok_or_else(|| damaged("metadata"))?,
        "metadata",
    )?;
    for _ in 0..num_locs {
        let mut next = || fields.next().unwrap_or(0);
        let (start, len, func_index, nt, na) = (next(), next(), next(), next(), next());
        let (start, len) = (start as usize, len as usize);
        if start < end || start + len > code.len() {
            return Err(damaged("code layout"));
        }
        end = start + len;
        let traps = traps_at
            ..traps_at
                .checked_add(nt)
                .ok_or_else(|| damaged("trap table"))?;
        let address_map = addr_at
            ..addr_at
                .checked_add(na)
                .ok_or_else(|| damaged("address map"))?;
        (traps_at, addr_at) = (traps.end, address_map.end);
        locs.push(FuncLoc {
            start,
            len,
            func_index,
            traps,
            address_map,
            call_sites: Vec::new(),
            stack_maps: Vec::new(),
        });
    }
    if traps_at as usize != num_traps || addr_at as usize != num_addr {
        return Err(damaged("table sizes"));
    }
    let tramp_types: Vec<u32> = m.u32s(num_tramps, "metadata")?.collect();
    let trap_offsets = m.u32s(num_traps, "trap table")?;
    let trap_codes = m.take(num_traps, "trap table")?;
    let traps = trap_offsets
        .zip(trap_codes)
        .map(|(o, c)| Some((o, Trap::from_u8(*c)?)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| damaged("trap code"))?;
    m.take(m.pos.next_multiple_of(4) - m.pos, "trap table")?;
    let address_map = m
        .take(
            num_addr
                .checked_mul(8)
                .ok_or_else(|| damaged("address map"))?,
            "address map",
        )?
        .chunks_exact(8)
        .map(|c| {
            let w = |i: usize| u32::from_le_bytes(c[i..i + 4].try_into().unwrap());
            (w(0), w(4))
        })
        .collect();
    let extra_len = usize::try_from(m.u64("metadata")?).map_err(|_| damaged("metadata"))?;
    let extra: Extra = postcard::from_bytes(m.take(extra_len, "metadata")?)
        .map_err(|e| damaged(&format!("metadata: {e}")))?;
    if m.pos != meta.len() {
        return Err(damaged("unused bytes after the metadata"));
    }
    for (k, sites) in extra.call_sites {
        let loc = locs
            .get_mut(k as usize)
            .ok_or_else(|| damaged("call sites"))?;
        loc.call_sites = sites
            .into_iter()
            .map(|(ret, frame_offset, hs)| weft_cranelift::CallSite {
                ret,
                frame_offset,
                handlers: hs
                    .into_iter()
                    .map(|(tag, offset, context_sp_offset)| weft_cranelift::Handler {
                        tag,
                        offset,
                        context_sp_offset,
                    })
                    .collect(),
            })
            .collect();
    }
    for (k, maps) in extra.stack_maps {
        let loc = locs
            .get_mut(k as usize)
            .ok_or_else(|| damaged("stack maps"))?;
        loc.stack_maps = maps
            .into_iter()
            .map(|(ret, frame_size, slots)| weft_cranelift::StackMap {
                ret,
                frame_size,
                slots,
            })
            .collect();
    }
    let images = match extra.images {
        None => None,
        Some(table) => Some(
            table
                .into_iter()
                .map(|e| {
                    e.map(|(off, len)| {
                        let ok = off.is_multiple_of(SECTION_ALIGN as u64)
                            && off
                                .checked_add(len)
                                .is_some_and(|end| end <= images.len() as u64);
                        ok.then_some((offsets[4] as u64 + off, len))
                            .ok_or_else(|| damaged("memory image table"))
                    })
                    .transpose()
                })
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    Ok(Artifact {
        wasm,
        code,
        code_offset,
        code_len: end.max(1),
        locs,
        traps,
        address_map,
        num_funcs,
        tramp_types,
        relocs: extra.relocs,
        images,
        unwind,
    })
}
