//! Precompiled modules: the file format `weft compile -o` writes, the code
//! cache stores, and `Module::deserialize` reads.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "WEFTCWSM"
//! 8       4     format version (u32 LE), FORMAT_VERSION
//! 12      4     fingerprint length F (u32 LE)
//! 16      F     fingerprint: "key=value\n" lines (UTF-8), see below
//! 16+F    8     payload length P (u64 LE)
//! 24+F    4     CRC-32 of the payload (u32 LE)
//! 28+F    P     payload:
//!                 8     metadata length M (u64 LE)
//!                 M     metadata (postcard): per function its code length,
//!                       alignment, relocations, trap table, address map
//!                       and unwind info; the same for each trampoline
//!                 W     the module's own bytes (W in the metadata)
//!                 ...   all machine code, functions then trampolines,
//!                       back to back
//! ```
//!
//! The fingerprint names everything that changes generated code: weft's
//! version and a hash of the sources of the compiler crates
//! (`build.rs`), the enabled wasm features, the target triple, every
//! Cranelift flag, the detected CPU features and weft's code generation
//! options. Loading compares it line by line with the engine's own, so a
//! mismatch says which setting differs. The checksum catches truncated or
//! damaged files before anything in the payload is interpreted (CRC-32:
//! every burst error up to 32 bits, and so every flipped bit, is detected;
//! it guards against accidents, not tampering, at memory speed).
//!
//! The module's bytes are kept so that loading rebuilds the module
//! description (types, imports, exports, segments) with the ordinary
//! section parser and validator: only function bodies, which are neither
//! validated nor compiled again, are skipped. Machine code is stored
//! unplaced; loading places it and applies its relocations as
//! compilation does.

use crate::vm::CompiledParts;
use crate::{Engine, Result};
use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use weft_cranelift::{CompiledFunction, LibCall, Reloc, RelocTarget, Relocation, UnwindInfo};
use weft_environ::Trap;

/// The first bytes of every precompiled module.
pub(crate) const MAGIC: &[u8; 8] = b"WEFTCWSM";

/// Bumped whenever the layout above or the metadata changes shape.
pub(crate) const FORMAT_VERSION: u32 = 1;

const HEADER_FIXED: usize = 8 + 4 + 4;

#[derive(Serialize, Deserialize)]
struct Metadata {
    wasm_len: u64,
    funcs: Vec<FuncMeta>,
    /// (type index, trampoline)
    trampolines: Vec<(u32, FuncMeta)>,
}

#[derive(Serialize, Deserialize)]
struct FuncMeta {
    code_len: u64,
    alignment: u32,
    relocs: Vec<RelocMeta>,
    /// (code offset, `Trap::as_u8`)
    traps: Vec<(u32, u8)>,
    address_map: Vec<(u32, u32)>,
    unwind: Option<UnwindInfo>,
    /// (return offset, frame offset, [(tag offset, landing offset,
    /// context sp offset)])
    call_sites: Vec<CallSiteMeta>,
    /// (return offset, frame size, slots)
    stack_maps: Vec<(u32, u32, Vec<u32>)>,
}

type CallSiteMeta = (u32, u32, Vec<(Option<u32>, u32, Option<u32>)>);

#[derive(Serialize, Deserialize)]
struct RelocMeta {
    offset: u32,
    kind: Reloc,
    target: TargetMeta,
    addend: i64,
}

#[derive(Serialize, Deserialize)]
enum TargetMeta {
    Function(u32),
    SelfOffset(u32),
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

fn func_meta(f: &CompiledFunction) -> FuncMeta {
    FuncMeta {
        code_len: f.code.len() as u64,
        alignment: f.alignment,
        relocs: f
            .relocs
            .iter()
            .map(|r| RelocMeta {
                offset: r.offset,
                kind: r.kind,
                target: match r.target {
                    RelocTarget::Function(i) => TargetMeta::Function(i),
                    RelocTarget::SelfOffset(o) => TargetMeta::SelfOffset(o),
                    RelocTarget::LibCall(l) => TargetMeta::LibCall(l),
                },
                addend: r.addend,
            })
            .collect(),
        traps: f.traps.iter().map(|(o, t)| (*o, t.as_u8())).collect(),
        address_map: f.address_map.clone(),
        unwind: f.unwind.clone(),
        call_sites: f
            .call_sites
            .iter()
            .map(|c| {
                (
                    c.ret,
                    c.frame_offset,
                    c.handlers
                        .iter()
                        .map(|h| (h.tag, h.offset, h.context_sp_offset))
                        .collect(),
                )
            })
            .collect(),
        stack_maps: f
            .stack_maps
            .iter()
            .map(|m| (m.ret, m.frame_size, m.slots.clone()))
            .collect(),
    }
}

/// Writes the artifact for module bytes `wasm` compiled into `parts`.
pub(crate) fn serialize(engine: &Engine, wasm: &[u8], parts: &CompiledParts) -> Result<Vec<u8>> {
    let meta = Metadata {
        wasm_len: wasm.len() as u64,
        funcs: parts.funcs.iter().map(func_meta).collect(),
        trampolines: parts
            .trampolines
            .iter()
            .map(|(i, f)| (*i, func_meta(f)))
            .collect(),
    };
    let meta = postcard::to_stdvec(&meta).context("failed to encode module metadata")?;
    let code_len: usize = parts.funcs.iter().map(|f| f.code.len()).sum::<usize>()
        + parts
            .trampolines
            .iter()
            .map(|(_, f)| f.code.len())
            .sum::<usize>();
    let mut payload = Vec::with_capacity(8 + meta.len() + wasm.len() + code_len);
    payload.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    payload.extend_from_slice(&meta);
    payload.extend_from_slice(wasm);
    for f in parts
        .funcs
        .iter()
        .chain(parts.trampolines.iter().map(|(_, f)| f))
    {
        payload.extend_from_slice(&f.code);
    }
    let fp = fingerprint(engine);
    let mut out = Vec::with_capacity(HEADER_FIXED + fp.len() + 12 + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(fp.len() as u32).to_le_bytes());
    out.extend_from_slice(fp.as_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
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

    fn len(&mut self, what: &str) -> Result<usize> {
        usize::try_from(self.u64(what)?)
            .map_err(|_| anyhow!("precompiled module is damaged (bad {what})"))
    }
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

/// Reads an artifact back into the module bytes and compiled code, after
/// checking its format, fingerprint and checksum.
pub(crate) fn deserialize(engine: &Engine, bytes: &[u8]) -> Result<(Vec<u8>, CompiledParts)> {
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
        .map_err(|_| anyhow!("precompiled module is damaged (fingerprint is not text)"))?;
    let ours = fingerprint(engine);
    if theirs != ours {
        return Err(mismatch(theirs, &ours));
    }
    let payload_len = r.len("header")?;
    let digest = r.u32("header")?;
    let payload = r.take(payload_len, "payload")?;
    if r.pos != bytes.len() {
        bail!("precompiled module is damaged (trailing bytes after the payload)");
    }
    if crc32fast::hash(payload) != digest {
        bail!("precompiled module is damaged (checksum mismatch)");
    }

    let damaged = |what: &str| anyhow!("precompiled module is damaged ({what})");
    let mut p = Reader {
        bytes: payload,
        pos: 0,
    };
    let meta_len = p.len("payload")?;
    let meta: Metadata = postcard::from_bytes(p.take(meta_len, "metadata")?)
        .map_err(|e| damaged(&format!("metadata: {e}")))?;
    let wasm_len = usize::try_from(meta.wasm_len).map_err(|_| damaged("module length"))?;
    let wasm = p.take(wasm_len, "module bytes")?.to_vec();
    let mut func = |m: FuncMeta| -> Result<CompiledFunction> {
        let len = usize::try_from(m.code_len).map_err(|_| damaged("code length"))?;
        let code = p.take(len, "code")?.to_vec();
        if !m.alignment.is_power_of_two() || m.alignment > 4096 {
            return Err(damaged("code alignment"));
        }
        let traps = m
            .traps
            .into_iter()
            .map(|(o, t)| Ok((o, Trap::from_u8(t).ok_or_else(|| damaged("trap code"))?)))
            .collect::<Result<_>>()?;
        Ok(CompiledFunction {
            code,
            alignment: m.alignment,
            relocs: m
                .relocs
                .into_iter()
                .map(|r| Relocation {
                    offset: r.offset,
                    kind: r.kind,
                    target: match r.target {
                        TargetMeta::Function(i) => RelocTarget::Function(i),
                        TargetMeta::SelfOffset(o) => RelocTarget::SelfOffset(o),
                        TargetMeta::LibCall(l) => RelocTarget::LibCall(l),
                    },
                    addend: r.addend,
                })
                .collect(),
            traps,
            address_map: m.address_map,
            unwind: m.unwind,
            call_sites: m
                .call_sites
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
                .collect(),
            stack_maps: m
                .stack_maps
                .into_iter()
                .map(|(ret, frame_size, slots)| weft_cranelift::StackMap {
                    ret,
                    frame_size,
                    slots,
                })
                .collect(),
        })
    };
    let funcs = meta
        .funcs
        .into_iter()
        .map(&mut func)
        .collect::<Result<_>>()?;
    let trampolines = meta
        .trampolines
        .into_iter()
        .map(|(i, m)| Ok((i, func(m)?)))
        .collect::<Result<_>>()?;
    if p.pos != payload.len() {
        return Err(damaged("unused bytes after the code"));
    }
    Ok((wasm, CompiledParts { funcs, trampolines }))
}
