//! Compiled modules: compilation pipeline, code placement and linking.
//!
//! ```text
//! bytes --translate_module--> ModuleInfo + bodies
//!       --compile (parallel)--> CompiledFunction per body (+ trampolines)
//!       --link--> one CodeMemory:
//!
//!   code base
//!   +--------------------+ 0
//!   | func N_imported    |   each function 16-byte aligned
//!   +--------------------+
//!   | func N_imported+1  |
//!   +--------------------+
//!   | ...                |
//!   +--------------------+
//!   | array->wasm tramp. |   one per distinct function type
//!   +--------------------+ len  (read+execute after publish)
//! ```

use super::code_memory::CodeMemory;
use super::code_registry::{self, CodeLookup};
use super::gdb_jit::{self, GdbJitImage, JitFunction};
use crate::types::{ExternType, GlobalType, MemoryType, Mutability, TableType};
use crate::{Engine, Result};
use anyhow::{Context, anyhow, bail};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use weft_cranelift::{CompiledFunction, RelocTarget, TrampolineKind};
use weft_environ::wasmparser::FuncValidatorAllocations;
use weft_environ::{EntityIndex, ModuleInfo, Trap};

/// Where one compiled function lives inside a module's code.
#[derive(Debug, Clone)]
pub(crate) struct FuncLoc {
    /// Offset from the code base.
    pub start: usize,
    pub len: usize,
    /// Function index in the module (`u32::MAX` for trampolines).
    pub func_index: u32,
    /// Its entries of [`ModuleCode`]'s trap table and address map.
    pub traps: std::ops::Range<u32>,
    pub address_map: std::ops::Range<u32>,
    /// Calls with exception handlers, sorted by return address offset.
    pub call_sites: Vec<weft_cranelift::CallSite>,
    /// `exnref` stack slots per call, sorted by return address offset.
    pub stack_maps: Vec<weft_cranelift::StackMap>,
}

/// Placed, published machine code plus what is needed to interpret PCs in
/// it. Registered in the global code registry while alive.
pub(crate) struct ModuleCode {
    /// The code's description for debuggers. Declared first so that it is
    /// dropped (unregistered) before `mem` is unmapped.
    _gdb_jit: Option<GdbJitImage>,
    mem: CodeMemory,
    /// All functions and trampolines, sorted by `start`.
    locs: Vec<FuncLoc>,
    /// (code offset in the function, trap) of all functions, each
    /// function's entries sorted by offset.
    traps: Vec<(u32, Trap)>,
    /// (code offset in the function, module byte offset) of all
    /// functions, each function's entries sorted by code offset.
    address_map: Vec<(u32, u32)>,
    pub module_name: Option<String>,
    pub func_names: HashMap<u32, String>,
}

impl ModuleCode {
    pub(crate) fn base(&self) -> usize {
        self.mem.base()
    }

    /// The function containing `pc` and the offset of `pc` in it.
    pub(crate) fn func_at(&self, pc: usize) -> Option<(&FuncLoc, u32)> {
        let loc = self.loc_at(pc)?;
        Some((loc, (pc - self.base() - loc.start) as u32))
    }

    fn loc_at(&self, pc: usize) -> Option<&FuncLoc> {
        let off = pc.checked_sub(self.base())?;
        let i = self.locs.partition_point(|l| l.start <= off);
        let loc = self.locs.get(i.checked_sub(1)?)?;
        (off < loc.start + loc.len).then_some(loc)
    }

    /// The wasm function containing `pc` and the offset of `pc` in it,
    /// with the module byte offset of the instruction when known.
    pub(crate) fn wasm_func_at(&self, pc: usize) -> Option<(u32, usize, Option<usize>)> {
        let loc = self.loc_at(pc)?;
        if loc.func_index == u32::MAX {
            return None;
        }
        let rel = pc - self.base() - loc.start;
        let map = &self.address_map[loc.address_map.start as usize..loc.address_map.end as usize];
        let i = map.partition_point(|(o, _)| *o as usize <= rel);
        let module_offset = i.checked_sub(1).map(|i| map[i].1 as usize);
        Some((loc.func_index, rel, module_offset))
    }
}

impl CodeLookup for ModuleCode {
    fn trap_at(&self, pc: usize) -> Option<Trap> {
        let loc = self.loc_at(pc)?;
        let rel = (pc - self.base() - loc.start) as u32;
        let traps = &self.traps[loc.traps.start as usize..loc.traps.end as usize];
        let i = traps.binary_search_by_key(&rel, |t| t.0).ok()?;
        Some(traps[i].1)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Unregisters the code when the last user goes away.
pub(crate) struct RegisteredCode(pub Arc<ModuleCode>);

impl Drop for RegisteredCode {
    fn drop(&mut self) {
        code_registry::unregister(self.0.base());
    }
}

/// A module after compilation.
pub(crate) struct CompiledModule {
    pub(crate) info: ModuleInfo,
    pub(crate) engine: Engine,
    /// Canonical type id per module type index.
    pub(crate) type_ids: Box<[u32]>,
    /// Keeps the code registered and mapped while the module lives.
    _code: RegisteredCode,
    /// Code address of each defined function (index - num_imported).
    pub(crate) func_ptrs: Vec<usize>,
    /// Array-to-wasm trampoline per canonical type id.
    pub(crate) trampolines: HashMap<u32, usize>,
    /// What `cont.new` needs per module type index (`Some` for
    /// continuation types): worked out once, not at every `cont.new`.
    cont_types: Box<[Option<ContNewInfo>]>,
    /// Copy-on-write images of the defined memories' initial contents,
    /// built on first instantiation (`None` inside: copy the data).
    memory_images: std::sync::OnceLock<Option<Vec<Option<super::memory_image::MemoryImage>>>>,
    /// Instantiations that asked for the images so far.
    image_requests: std::sync::atomic::AtomicUsize,
}

// SAFETY: the raw code addresses are plain integers into immutable,
// published code owned by `code`.
unsafe impl Send for CompiledModule {}
// SAFETY: as above; nothing is mutated after construction.
unsafe impl Sync for CompiledModule {}

/// What `cont.new` of one continuation type needs: its function type's
/// canonical id, array-to-wasm trampoline and value counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContNewInfo {
    pub(crate) func_type: u32,
    pub(crate) trampoline: usize,
    pub(crate) nparams: u32,
    pub(crate) nresults: u32,
}

/// [`ContNewInfo`] for every continuation type of `info` (`None` for
/// other types).
fn cont_new_infos(
    info: &ModuleInfo,
    type_ids: &[u32],
    trampolines: &HashMap<u32, usize>,
) -> Result<Box<[Option<ContNewInfo>]>> {
    use weft_environ::wasmparser::CompositeInnerType;
    info.types
        .iter()
        .map(|t| {
            let CompositeInnerType::Cont(c) = &t.sub.composite_type.inner else {
                return Ok(None);
            };
            let func_ty = c
                .0
                .as_module_index()
                .ok_or_else(|| anyhow!("a continuation type names a type outside the module"))?;
            let fty = info.type_as_func(func_ty);
            let id = type_ids[func_ty as usize];
            let trampoline = *trampolines.get(&id).ok_or_else(|| {
                anyhow!("no array trampoline for continuation type's function type")
            })?;
            Ok(Some(ContNewInfo {
                func_type: id,
                trampoline,
                nparams: fty.params().len() as u32,
                nresults: fty.results().len() as u32,
            }))
        })
        .collect()
}

/// A module's machine code before placement: what a precompiled artifact
/// stores (see `crate::artifact`).
pub(crate) struct CompiledParts {
    /// One per defined function, in function index order.
    pub funcs: Vec<CompiledFunction>,
    /// The array-to-wasm trampolines: (type index, code), one per distinct
    /// function type, in the order of [`trampoline_types`].
    pub trampolines: Vec<(u32, CompiledFunction)>,
}

/// Where a precompiled artifact comes from.
pub(crate) enum ArtifactSource<'a> {
    /// Bytes in memory: the code is copied out of them.
    Bytes(&'a [u8]),
    /// A file, mapped: never modified in place while the module lives
    /// (the cache replaces entries by renaming; `Module::deserialize_file`
    /// makes it the caller's promise).
    File(std::fs::File),
}

/// The first `len` bytes of `map`, borrowed from it.
fn mapped_bytes(map: &weft_sys::Mmap, len: usize) -> &[u8] {
    assert!(len <= map.len(), "mapping shorter than the file");
    if len == 0 {
        return &[];
    }
    // SAFETY: `map` is a readable file mapping of at least `len` bytes
    // (asserted), nothing writes it while it is borrowed (protection
    // changes need `&mut`), and the file is not modified in place (the
    // contract of `ArtifactSource::File`).
    unsafe { std::slice::from_raw_parts(map.as_ptr(), len) }
}

/// Applies the relocations an artifact left for load time.
fn apply_load_relocs(mem: &mut CodeMemory, relocs: &[crate::artifact::LoadReloc]) -> Result<()> {
    if relocs.is_empty() {
        return Ok(());
    }
    let base = mem.base();
    let bytes = mem.as_mut_slice()?;
    for r in relocs {
        let target = match r.target {
            crate::artifact::LoadTarget::Code(off) if (off as usize) <= bytes.len() => {
                base + off as usize
            }
            crate::artifact::LoadTarget::Code(_) => {
                bail!("precompiled module is damaged (relocation target)")
            }
            crate::artifact::LoadTarget::LibCall(l) => super::libcalls::address(l)?,
        };
        apply_reloc(bytes, r.site as usize, base, r.kind, target, r.addend)?;
    }
    Ok(())
}

/// The code section at `[offset, offset + len)` of an artifact's mapping,
/// made executable in place; copied into fresh code memory when the
/// kernel refuses (a file system mounted `noexec`).
fn place_in_mapping(
    map: weft_sys::Mmap,
    offset: usize,
    len: usize,
    relocs: &[crate::artifact::LoadReloc],
) -> Result<CodeMemory> {
    let mut mem = CodeMemory::in_file_mapping(map, offset, len)?;
    match apply_load_relocs(&mut mem, relocs).and_then(|()| mem.publish()) {
        Ok(()) => Ok(mem),
        Err(_) => {
            // Every load-time relocation rewrites its whole field, so the
            // copy is relocated afresh for its own address.
            let mut copy = CodeMemory::new(len)?;
            copy.as_mut_slice()?.copy_from_slice(mem.as_slice());
            apply_load_relocs(&mut copy, relocs)?;
            copy.publish()?;
            Ok(copy)
        }
    }
}

/// An artifact checked against the module its bytes describe.
struct Loaded {
    info: ModuleInfo,
    type_ids: Box<[u32]>,
    tramp_types: Vec<(u32, u32)>,
    unwind: Vec<Option<weft_cranelift::UnwindInfo>>,
}

impl Loaded {
    fn check(
        engine: &Engine,
        a: &crate::artifact::Artifact<'_>,
        expected: Option<&[u8]>,
    ) -> Result<Loaded> {
        if expected.is_some_and(|e| e != a.wasm) {
            bail!("the cache entry holds a different module");
        }
        // The module was validated when the artifact was made, with the
        // features the fingerprint pins; the checksum covers its bytes.
        let info = weft_environ::module_info_of_validated(a.wasm)
            .context("precompiled module is damaged (its module does not parse)")?;
        let num_imported = info.num_imported_funcs;
        let defined = info.functions.len() - num_imported as usize;
        if a.num_funcs != defined {
            bail!(
                "compiled code has {} functions, the module defines {defined}",
                a.num_funcs
            );
        }
        let index_ok = a
            .locs
            .iter()
            .enumerate()
            .all(|(k, l)| match k.checked_sub(defined) {
                None => l.func_index == num_imported + k as u32,
                Some(_) => l.func_index == u32::MAX,
            });
        if !index_ok {
            bail!("precompiled module is damaged (function indices)");
        }
        let (type_ids, tramp_types) = trampoline_types(engine, &info);
        if tramp_types.len() != a.tramp_types.len()
            || tramp_types
                .iter()
                .zip(&a.tramp_types)
                .any(|((_, t), u)| t != u)
        {
            bail!("compiled trampolines do not match the module's function types");
        }
        let planned = super::memory_image::plan_images(&info);
        let images_ok = match (&planned, &a.images) {
            (_, None) => true,
            (Some(p), Some(t)) => {
                p.len() == t.len()
                    && p.iter().zip(t).all(|(p, t)| {
                        p.as_ref().map(|(len, _)| *len) == t.as_ref().map(|(_, len)| *len)
                    })
            }
            (None, Some(_)) => false,
        };
        if !images_ok {
            bail!("precompiled module is damaged (memory images)");
        }
        let unwind = if engine.config().gdb_jit_enabled() {
            a.unwind()?
        } else {
            Vec::new()
        };
        Ok(Loaded {
            info,
            type_ids,
            tramp_types,
            unwind,
        })
    }

    fn finish(
        self,
        engine: &Engine,
        a: crate::artifact::Artifact<'_>,
        mem: CodeMemory,
        images: Option<Vec<Option<super::memory_image::MemoryImage>>>,
    ) -> Result<CompiledModule> {
        let starts: Vec<usize> = a.locs.iter().map(|l| l.start).collect();
        let unwind: Vec<Option<&weft_cranelift::UnwindInfo>> =
            self.unwind.iter().map(Option::as_ref).collect();
        let linked = Linked {
            mem,
            locs: a.locs,
            traps: a.traps,
            address_map: a.address_map,
        };
        CompiledModule::finish(
            engine,
            self.info,
            self.type_ids,
            &self.tramp_types,
            linked,
            &starts,
            &unwind,
            images,
        )
    }
}

/// The canonical type id of each module type, and the function types that
/// get an array-to-wasm trampoline: (canonical id, first type index with
/// it), in type index order. Canonical ids are structural, so the list of
/// type indices is the same in every engine.
fn trampoline_types(engine: &Engine, info: &ModuleInfo) -> (Box<[u32]>, Vec<(u32, u32)>) {
    let type_ids: Box<[u32]> = engine.inner.types.register_module(info).into();
    let mut tramp_types: Vec<(u32, u32)> = Vec::new();
    for (idx, t) in info.types.iter().enumerate() {
        if t.as_func().is_some() && !tramp_types.iter().any(|(id, _)| *id == type_ids[idx]) {
            tramp_types.push((type_ids[idx], idx as u32));
        }
    }
    (type_ids, tramp_types)
}

impl CompiledModule {
    pub(crate) fn compile(engine: &Engine, wasm: &[u8]) -> Result<CompiledModule> {
        let (info, parts) = CompiledModule::compile_parts(engine, wasm)?;
        CompiledModule::from_parts(engine, info, &parts)
    }

    /// Validates and compiles `wasm` without placing the code anywhere.
    pub(crate) fn compile_parts(
        engine: &Engine,
        wasm: &[u8],
    ) -> Result<(ModuleInfo, CompiledParts)> {
        let config = engine.config();
        let translation = weft_environ::translate_module_with_limits(
            wasm,
            config.features,
            &config.module_limits,
        )?;
        let info = translation.info;
        let compiler = &engine.inner.compiler;
        let num_imported = info.num_imported_funcs;
        let jobs: Vec<(u32, weft_environ::FunctionBodyData<'_>)> = translation
            .bodies
            .into_iter()
            .enumerate()
            .map(|(i, b)| (num_imported + i as u32, b))
            .collect();
        let compile_one = |allocs: &mut FuncValidatorAllocations,
                           (index, body): (u32, weft_environ::FunctionBodyData<'_>)|
         -> Result<CompiledFunction> {
            let (f, a) = compiler
                .compile_function(&info, index, body, std::mem::take(allocs))
                .with_context(|| match info.func_name(index) {
                    Some(n) => format!("failed to compile function {index} ({n})"),
                    None => format!("failed to compile function {index}"),
                })?;
            *allocs = a;
            Ok(f)
        };
        let funcs: Vec<CompiledFunction> = if config.parallel_compilation && jobs.len() > 1 {
            jobs.into_par_iter()
                .map_init(FuncValidatorAllocations::default, compile_one)
                .collect::<Result<_>>()?
        } else {
            let mut allocs = FuncValidatorAllocations::default();
            jobs.into_iter()
                .map(|j| compile_one(&mut allocs, j))
                .collect::<Result<_>>()?
        };
        let (_, tramp_types) = trampoline_types(engine, &info);
        let trampolines = tramp_types
            .iter()
            .map(|(_, idx)| {
                let f = compiler
                    .compile_trampoline(TrampolineKind::ArrayToWasm, info.type_as_func(*idx))?;
                Ok((*idx, f))
            })
            .collect::<Result<_>>()?;
        Ok((info, CompiledParts { funcs, trampolines }))
    }

    /// Loads a precompiled artifact (`crate::artifact`). With `expected`,
    /// the artifact must hold exactly those module bytes (a cache entry).
    ///
    /// From a file, the artifact is mapped rather than read: its code
    /// section becomes the module's code memory in place and its memory
    /// images are mapped into instances straight from the file.
    pub(crate) fn from_artifact(
        engine: &Engine,
        source: ArtifactSource<'_>,
        expected: Option<&[u8]>,
    ) -> Result<CompiledModule> {
        match source {
            ArtifactSource::Bytes(bytes) => {
                let a = crate::artifact::parse(engine, bytes)?;
                let loaded = Loaded::check(engine, &a, expected)?;
                let mut mem = CodeMemory::new(a.code_len)?;
                mem.as_mut_slice()?.copy_from_slice(&a.code[..a.code_len]);
                apply_load_relocs(&mut mem, &a.relocs)?;
                mem.publish()?;
                loaded.finish(engine, a, mem, None)
            }
            ArtifactSource::File(file) => {
                let len = usize::try_from(file.metadata()?.len())
                    .map_err(|_| anyhow!("precompiled module is too large"))?;
                let map = weft_sys::Mmap::map_file(&file, len)?;
                let (loaded, a) = {
                    let bytes = mapped_bytes(&map, len);
                    let a = crate::artifact::parse(engine, bytes)?;
                    let loaded = Loaded::check(engine, &a, expected)?;
                    (loaded, a.detach())
                };
                let file = Arc::new(file);
                let images = a.images.as_ref().and_then(|table| {
                    table
                        .iter()
                        .map(|e| match e {
                            None => Some(None),
                            Some((off, len)) => super::memory_image::MemoryImage::in_file(
                                file.clone(),
                                *off,
                                *len as usize,
                            )
                            .map(Some),
                        })
                        .collect::<Option<Vec<_>>>()
                });
                let mem = place_in_mapping(map, a.code_offset, a.code_len, &a.relocs)?;
                loaded.finish(engine, a, mem, images)
            }
        }
    }

    /// Places, links and publishes compiled code for the module `info`
    /// describes. `parts` may come from an artifact: its shape is checked
    /// against `info` (function count, trampoline types, relocation sites)
    /// so that a mismatch is an error rather than a bad placement.
    pub(crate) fn from_parts(
        engine: &Engine,
        info: ModuleInfo,
        parts: &CompiledParts,
    ) -> Result<CompiledModule> {
        let funcs = &parts.funcs;
        let num_imported = info.num_imported_funcs;
        let defined = info.functions.len() - num_imported as usize;
        if funcs.len() != defined {
            bail!(
                "compiled code has {} functions, the module defines {defined}",
                funcs.len()
            );
        }
        let (type_ids, tramp_types) = trampoline_types(engine, &info);
        if tramp_types.len() != parts.trampolines.len()
            || tramp_types
                .iter()
                .zip(&parts.trampolines)
                .any(|((_, a), (b, _))| a != b)
        {
            bail!("compiled trampolines do not match the module's function types");
        }
        let tramps: Vec<&CompiledFunction> = parts.trampolines.iter().map(|(_, f)| f).collect();

        let mut all: Vec<(u32, &CompiledFunction)> = Vec::new();
        for (i, f) in funcs.iter().enumerate() {
            all.push((num_imported + i as u32, f));
        }
        for t in &tramps {
            all.push((u32::MAX, *t));
        }
        let (linked, starts) = link(&all, funcs.len(), num_imported)?;
        let unwind: Vec<Option<&weft_cranelift::UnwindInfo>> =
            all.iter().map(|(_, f)| f.unwind.as_ref()).collect();
        CompiledModule::finish(
            engine,
            info,
            type_ids,
            &tramp_types,
            linked,
            &starts,
            &unwind,
            None,
        )
    }

    /// Publishes linked code as the module `info` describes (`starts`: the
    /// offset of each function, then of each trampoline, in
    /// `tramp_types` order; `unwind`: their unwind info, for debuggers).
    #[allow(clippy::too_many_arguments)]
    fn finish(
        engine: &Engine,
        info: ModuleInfo,
        type_ids: Box<[u32]>,
        tramp_types: &[(u32, u32)],
        linked: Linked,
        starts: &[usize],
        unwind: &[Option<&weft_cranelift::UnwindInfo>],
        images: Option<Vec<Option<super::memory_image::MemoryImage>>>,
    ) -> Result<CompiledModule> {
        let num_funcs = starts.len() - tramp_types.len();
        let num_imported = info.num_imported_funcs;
        let base = linked.mem.base();
        let func_ptrs = starts[..num_funcs].iter().map(|s| base + s).collect();
        let trampolines = tramp_types
            .iter()
            .zip(&starts[num_funcs..])
            .map(|((id, _), s)| (*id, base + s))
            .collect();
        let cont_types = cont_new_infos(&info, &type_ids, &trampolines)?;
        let len = linked.mem.as_slice().len();
        let module_label = info.name.as_deref().unwrap_or("module");
        let gdb_jit = describe_for_debuggers(
            engine,
            base,
            len,
            linked
                .locs
                .iter()
                .zip(unwind)
                .enumerate()
                .map(|(k, (loc, u))| {
                    let name = match k.checked_sub(num_funcs) {
                        Some(t) => format!(
                            "trampoline::array_to_wasm::{module_label}::type[{}]",
                            tramp_types[t].1
                        ),
                        None => {
                            let index = num_imported + k as u32;
                            match info.func_name(index) {
                                Some(n) => format!("wasm::{module_label}::{n}"),
                                None => format!("wasm::{module_label}::function[{index}]"),
                            }
                        }
                    };
                    (name, loc.start, loc.len, *u)
                }),
        );
        let code = Arc::new(ModuleCode {
            _gdb_jit: gdb_jit,
            mem: linked.mem,
            locs: linked.locs,
            traps: linked.traps,
            address_map: linked.address_map,
            module_name: info.name.clone(),
            func_names: info.func_names.clone(),
        });
        code_registry::register(base, base + len, code.clone());
        if perf_map_enabled() {
            write_perf_map(&code);
        }
        let memory_images = std::sync::OnceLock::new();
        if let Some(images) = images {
            let _ = memory_images.set(Some(images));
        }
        Ok(CompiledModule {
            info,
            engine: engine.clone(),
            type_ids,
            _code: RegisteredCode(code),
            func_ptrs,
            trampolines,
            cont_types,
            memory_images,
            image_requests: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The type of an entity of this module, as the API describes it.
    pub(crate) fn entity_type(&self, index: EntityIndex) -> ExternType {
        let info = &self.info;
        let id_of = |i: u32| self.type_ids[i as usize];
        match index {
            EntityIndex::Function(f) => {
                let id = self.type_ids[info.functions[f as usize] as usize];
                ExternType::Func(
                    self.engine
                        .inner
                        .types
                        .func_type(id)
                        .expect("function type"),
                )
            }
            EntityIndex::Global(g) => {
                let ty = &info.globals[g as usize];
                ExternType::Global(GlobalType::new(
                    super::type_registry::api_val_type(&ty.content_type, &id_of, info),
                    if ty.mutable {
                        Mutability::Var
                    } else {
                        Mutability::Const
                    },
                ))
            }
            EntityIndex::Table(t) => {
                let ty = &info.tables[t as usize].ty;
                ExternType::Table(TableType {
                    element: super::type_registry::api_ref_type(&ty.element_type, &id_of, info),
                    min: ty.initial,
                    max: ty.maximum,
                    table64: ty.table64,
                })
            }
            EntityIndex::Memory(m) => {
                let ty = &info.memories[m as usize];
                ExternType::Memory(MemoryType {
                    min: ty.initial,
                    max: ty.maximum,
                    memory64: ty.memory64,
                    shared: ty.shared,
                    page_size_log2: ty.page_size_log2() as u8,
                })
            }
            EntityIndex::Tag(t) => {
                let id = self.type_ids[info.tags[t as usize] as usize];
                ExternType::Tag(self.engine.inner.types.func_type(id).expect("tag type"))
            }
        }
    }

    /// The memory images of this module's defined memories, or `None` when
    /// instantiation must copy the data (see `vm::memory_image`).
    pub(crate) fn memory_images(&self) -> Option<&[Option<super::memory_image::MemoryImage>]> {
        if !self.engine.config().memory_init_cow {
            return None;
        }
        // The first instantiation copies: building an image costs more
        // than one copy, so a module instantiated once (a CLI run) never
        // pays for it; from the second on, every instance maps it.
        if self.memory_images.get().is_none()
            && self
                .image_requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                == 0
        {
            return None;
        }
        self.memory_images
            .get_or_init(|| {
                // An image that cannot be built (no memfd) only costs speed.
                super::memory_image::build_images(&self.info).ok().flatten()
            })
            .as_deref()
    }

    /// What `cont.new` of continuation type `ty` (a module type index)
    /// needs; `None` if `ty` is not a continuation type.
    pub(crate) fn cont_new_info(&self, ty: u32) -> Option<ContNewInfo> {
        self.cont_types.get(ty as usize).copied().flatten()
    }

    /// The array-to-wasm trampoline for canonical type `id`.
    pub(crate) fn trampoline(&self, id: u32) -> Option<usize> {
        self.trampolines.get(&id).copied()
    }
}

pub(crate) struct Linked {
    pub(crate) mem: CodeMemory,
    pub(crate) locs: Vec<FuncLoc>,
    pub(crate) traps: Vec<(u32, Trap)>,
    pub(crate) address_map: Vec<(u32, u32)>,
}

/// Where each of `all` starts when placed back to back (each at its
/// alignment, at least 16), and the total length.
pub(crate) fn layout<'a>(all: impl Iterator<Item = &'a CompiledFunction>) -> (Vec<usize>, usize) {
    let mut starts = Vec::new();
    let mut len = 0usize;
    for f in all {
        let align = f.alignment.max(16) as usize;
        len = len.next_multiple_of(align);
        starts.push(len);
        len += f.code.len();
    }
    (starts, len)
}

/// A relocation's target as an offset into the code laid out by
/// [`layout`], or `None` for a target outside it (a libcall).
pub(crate) fn reloc_target_offset(
    r: &weft_cranelift::Relocation,
    start: usize,
    starts: &[usize],
    num_funcs: usize,
    num_imported: u32,
) -> Result<Option<usize>> {
    Ok(match r.target {
        RelocTarget::Function(idx) => {
            let def = idx
                .checked_sub(num_imported)
                .filter(|d| (*d as usize) < num_funcs)
                .ok_or_else(|| anyhow!("relocation to non-defined function {idx}"))?;
            Some(starts[def as usize])
        }
        RelocTarget::SelfOffset(off) => Some(start + off as usize),
        RelocTarget::LibCall(_) => None,
    })
}

/// Places `all` functions in one code memory, resolves relocations, and
/// publishes it. Returns the start offset of each entry of `all`.
fn link(
    all: &[(u32, &CompiledFunction)],
    num_funcs: usize,
    num_imported: u32,
) -> Result<(Linked, Vec<usize>)> {
    let (starts, len) = layout(all.iter().map(|(_, f)| *f));
    let mut mem = CodeMemory::new(len.max(1))?;
    let base = mem.base();
    {
        let bytes = mem.as_mut_slice()?;
        for ((_, f), start) in all.iter().zip(&starts) {
            bytes[*start..*start + f.code.len()].copy_from_slice(&f.code);
        }
        for ((_, f), start) in all.iter().zip(&starts) {
            for r in &f.relocs {
                if r.offset as usize + 4 > f.code.len() {
                    bail!("relocation at {} outside its function", r.offset);
                }
                let site = start + r.offset as usize;
                let target = match reloc_target_offset(r, *start, &starts, num_funcs, num_imported)?
                {
                    Some(off) => base + off,
                    None => match r.target {
                        RelocTarget::LibCall(l) => super::libcalls::address(l)?,
                        _ => unreachable!("only libcalls lie outside the code"),
                    },
                };
                apply_reloc(bytes, site, base, r.kind, target, r.addend)?;
            }
        }
    }
    mem.publish()?;
    let mut traps = Vec::new();
    let mut address_map = Vec::new();
    let locs = all
        .iter()
        .zip(&starts)
        .map(|((idx, f), start)| {
            let t0 = traps.len() as u32;
            traps.extend_from_slice(&f.traps);
            let a0 = address_map.len() as u32;
            address_map.extend_from_slice(&f.address_map);
            FuncLoc {
                start: *start,
                len: f.code.len(),
                func_index: *idx,
                traps: t0..traps.len() as u32,
                address_map: a0..address_map.len() as u32,
                call_sites: f.call_sites.clone(),
                stack_maps: f.stack_maps.clone(),
            }
        })
        .collect();
    Ok((
        Linked {
            mem,
            locs,
            traps,
            address_map,
        },
        starts,
    ))
}

/// Whether relocation `kind` is relative to its own site (so it can be
/// resolved before the code's address is known, when its target lies in
/// the same code).
pub(crate) fn reloc_is_pc_relative(kind: weft_cranelift::Reloc) -> bool {
    use cranelift_codegen_reloc::Reloc;
    matches!(
        kind,
        Reloc::X86CallPCRel4 | Reloc::X86PCRel4 | Reloc::X86CallPLTRel4
    )
}

pub(crate) fn apply_reloc(
    bytes: &mut [u8],
    site: usize,
    base: usize,
    kind: cranelift_codegen_reloc::Reloc,
    target: usize,
    addend: i64,
) -> Result<()> {
    use cranelift_codegen_reloc::Reloc;
    match kind {
        Reloc::X86CallPCRel4 | Reloc::X86PCRel4 | Reloc::X86CallPLTRel4 => {
            let pc = (base + site) as i64;
            let delta = target as i64 + addend - pc;
            let delta = i32::try_from(delta).map_err(|_| anyhow!("relocation out of range"))?;
            bytes
                .get_mut(site..site + 4)
                .ok_or_else(|| anyhow!("relocation outside the code"))?
                .copy_from_slice(&delta.to_le_bytes());
        }
        Reloc::Abs8 => {
            let v = (target as i64 + addend) as u64;
            bytes
                .get_mut(site..site + 8)
                .ok_or_else(|| anyhow!("relocation outside the code"))?
                .copy_from_slice(&v.to_le_bytes());
        }
        other => bail!("unsupported relocation kind {other:?}"),
    }
    Ok(())
}

/// Re-export of Cranelift's relocation kinds under a local name.
mod cranelift_codegen_reloc {
    pub use weft_cranelift::Reloc;
}

/// Whether `WEFT_PERF_MAP` is set: then the code of every module is listed
/// in `/tmp/perf-<pid>.map` so `perf report` can name JIT-compiled functions.
fn perf_map_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("WEFT_PERF_MAP").is_some_and(|v| v != "0"))
}

/// Appends `code`'s functions to the perf map (best effort: errors ignored).
fn write_perf_map(code: &ModuleCode) {
    use std::io::Write as _;
    let mut text = String::new();
    for loc in &code.locs {
        let name = match code.func_names.get(&loc.func_index) {
            _ if loc.func_index == u32::MAX => "trampoline".to_string(),
            Some(n) => format!("wasm[{}]::{n}", loc.func_index),
            None => format!("wasm[{}]", loc.func_index),
        };
        text.push_str(&format!(
            "{:x} {:x} {name}\n",
            code.base() + loc.start,
            loc.len
        ));
    }
    let path = format!("/tmp/perf-{}.map", std::process::id());
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

/// Places a single trampoline in its own code memory and registers it.
/// Returns the registration (keep it alive while the code may run) and the
/// code address.
/// `name` is its symbol for debuggers.
pub(crate) fn publish_single(
    engine: &Engine,
    f: &CompiledFunction,
    name: String,
) -> Result<(Arc<RegisteredCode>, usize)> {
    let (linked, starts) = link(&[(u32::MAX, f)], 0, 0)?;
    let base = linked.mem.base();
    let len = linked.mem.as_slice().len();
    let gdb_jit = describe_for_debuggers(
        engine,
        base,
        len,
        std::iter::once((name, starts[0], f.code.len(), f.unwind.as_ref())),
    );
    let code = Arc::new(ModuleCode {
        _gdb_jit: gdb_jit,
        mem: linked.mem,
        locs: linked.locs,
        traps: linked.traps,
        address_map: linked.address_map,
        module_name: None,
        func_names: HashMap::new(),
    });
    code_registry::register(base, base + len, code.clone());
    Ok((Arc::new(RegisteredCode(code)), base + starts[0]))
}

/// Registers the code memory `[base, base + len)` holding `funcs`
/// (symbol name, offset from `base`, length, unwind info) with debuggers
/// through gdb's JIT interface, when the engine is configured to.
fn describe_for_debuggers<'a>(
    engine: &Engine,
    base: usize,
    len: usize,
    funcs: impl Iterator<Item = (String, usize, usize, Option<&'a weft_cranelift::UnwindInfo>)>,
) -> Option<GdbJitImage> {
    if !engine.config().gdb_jit_enabled() {
        return None;
    }
    let funcs: Vec<JitFunction<'_>> = funcs
        .map(|(name, start, len, unwind)| JitFunction {
            name,
            addr: base + start,
            len,
            unwind,
        })
        .collect();
    match gdb_jit::build_elf(base, len, &funcs, engine.inner.compiler.systemv_cie()) {
        Ok(image) => Some(GdbJitImage::register(image)),
        Err(e) => {
            // Only debugging suffers; the code itself is fine.
            debug_assert!(false, "building the gdb JIT image failed: {e}");
            None
        }
    }
}
