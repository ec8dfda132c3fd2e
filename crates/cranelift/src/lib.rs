//! WebAssembly to Cranelift IR translation and native compilation for weft.
//!
//! The compiler turns one validated function body at a time into machine
//! code plus the metadata the runtime needs to place and run it:
//! relocations (calls between functions of the module), trap sites (for
//! the signal handler) and the code offsets of wasm instructions.
//!
//! Generated functions use Cranelift's `tail` calling convention with the
//! signature `fn(callee_vmctx, caller_vmctx, wasm params...) -> wasm results`;
//! see `weft_environ::vmoffsets` for every layout they touch.
//!
//! This crate depends on `weft-environ`, `wasmparser` and Cranelift only. It
//! must not depend on the runtime (`weft`), touch the operating system, or
//! own executable memory: the runtime places and links the code.

mod env;
mod fuel;
mod simd;
mod trampolines;
mod translate;

use anyhow::{Context as _, Result, anyhow};
use cranelift_codegen::ir::{self, ExternalName, UserExternalName};
use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, FinalizedRelocTarget};
use weft_environ::wasmparser::FuncValidatorAllocations;
use weft_environ::{FunctionBodyData, ModuleInfo, Trap};

pub use cranelift_codegen::binemit::Reloc;
pub use cranelift_codegen::gimli;
pub use cranelift_codegen::ir::LibCall;
pub use cranelift_codegen::isa::unwind::UnwindInfo;
pub use trampolines::TrampolineKind;

/// What a relocation in compiled code points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelocTarget {
    /// The start of a function of the same module (by function index).
    Function(u32),
    /// An offset inside the function that contains the relocation.
    SelfOffset(u32),
    /// A Cranelift runtime library routine (float rounding, fma...).
    LibCall(ir::LibCall),
}

/// One relocation to resolve when the code is placed in memory.
#[derive(Debug, Clone, Copy)]
pub struct Relocation {
    /// Offset in the function's code where the patch goes.
    pub offset: u32,
    /// Kind of patch.
    pub kind: Reloc,
    /// What it refers to.
    pub target: RelocTarget,
    /// Addend.
    pub addend: i64,
}

/// Machine code for one function and its metadata.
#[derive(Debug, Clone)]
pub struct CompiledFunction {
    /// The code bytes.
    pub code: Vec<u8>,
    /// Required alignment of the code start.
    pub alignment: u32,
    /// Patches to apply after placement.
    pub relocs: Vec<Relocation>,
    /// Trap sites: (code offset, trap) sorted by offset.
    pub traps: Vec<(u32, Trap)>,
    /// (code offset, wasm module byte offset) pairs, sorted by code offset,
    /// for mapping PCs in backtraces back to wasm instructions.
    pub address_map: Vec<(u32, u32)>,
    /// How to unwind through the function (DWARF CFI for System V
    /// targets), for debuggers and profilers; see [`Compiler::systemv_cie`].
    pub unwind: Option<UnwindInfo>,
    /// Calls made inside exception handler scopes (`try_call`), sorted by
    /// return address: where a throw through each call lands.
    pub call_sites: Vec<CallSite>,
    /// Where `exnref` values live in the frame at each call (Cranelift
    /// user stack maps), sorted by return address: the GC's precise roots.
    pub stack_maps: Vec<StackMap>,
}

/// One call inside exception handler scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSite {
    /// Offset of the return address in the function.
    pub ret: u32,
    /// Frame pointer minus the stack pointer at the call: a handler is
    /// resumed with `sp = fp - frame_offset`.
    pub frame_offset: u32,
    /// The handlers, innermost first; the first that matches wins.
    pub handlers: Vec<Handler>,
}

/// One catch clause of a [`CallSite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handler {
    /// `None` for a catch-all; otherwise the vmctx byte offset of the
    /// caught tag's store-wide identity (`VMOffsets::tag`).
    pub tag: Option<u32>,
    /// Offset of the landing pad in the function.
    pub offset: u32,
    /// Where the frame saved its vmctx (the dynamic context that tag
    /// offsets are read from), as an offset from the call's stack pointer.
    pub context_sp_offset: Option<u32>,
}

/// The `exnref` slots of a frame at one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackMap {
    /// Offset of the return address in the function.
    pub ret: u32,
    /// Frame pointer minus stack pointer at the call.
    pub frame_size: u32,
    /// Offsets from that stack pointer of 8-byte slots holding `exnref`s.
    pub slots: Vec<u32>,
}

/// Code generation choices that change what generated code does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompilerOptions {
    /// Check the engine's epoch against the store's deadline at every
    /// function entry and loop header.
    pub epoch_interruption: bool,
    /// Charge fuel (`VMStoreContext.fuel_consumed`) per instruction and trap
    /// with `OutOfFuel` at function entries and loop headers once it is
    /// used up.
    pub consume_fuel: bool,
}

/// Functions with more CLIF blocks than this are compiled without
/// Cranelift's optimiser, whose egraph pass takes time quadratic in the
/// depth of the dominator tree (a few seconds at 16k nested blocks with a
/// branch each; a 7 MB body could nest a million). Below it, optimising
/// costs at most about a second per function.
pub const MAX_OPTIMIZED_BLOCKS: usize = 8192;

/// A compiler for one target ISA with fixed settings.
pub struct Compiler {
    isa: OwnedTargetIsa,
    /// The same target without optimisation, for functions beyond
    /// [`MAX_OPTIMIZED_BLOCKS`].
    unoptimized_isa: OwnedTargetIsa,
    options: CompilerOptions,
}

impl Compiler {
    /// A compiler for the host CPU. `opt_level` is one of Cranelift's
    /// `none`, `speed`, `speed_and_size`.
    pub fn new_native(opt_level: &str, options: CompilerOptions) -> Result<Compiler> {
        Ok(Compiler {
            isa: Self::native_isa(opt_level)?,
            unoptimized_isa: Self::native_isa("none")?,
            options,
        })
    }

    fn native_isa(opt_level: &str) -> Result<OwnedTargetIsa> {
        let mut flags = settings::builder();
        let set = |f: &mut settings::Builder, k: &str, v: &str| {
            f.set(k, v)
                .map_err(|e| anyhow!("cranelift setting {k}={v}: {e}"))
        };
        set(&mut flags, "opt_level", opt_level)?;
        set(&mut flags, "preserve_frame_pointers", "true")?;
        set(
            &mut flags,
            "enable_verifier",
            if cfg!(debug_assertions) {
                "true"
            } else {
                "false"
            },
        )?;
        set(&mut flags, "enable_probestack", "false")?;
        // Continuations switch stacks with `stack_switch` (saves sp, fp and
        // pc; clobbers every other register).
        set(&mut flags, "stack_switch_model", "basic")?;
        // Unwind info costs nothing in the generated code (frames are
        // frame-pointer based either way); the runtime turns it into
        // `.eh_frame` for gdb's JIT interface (`weft::vm::gdb_jit`).
        set(&mut flags, "unwind_info", "true")?;
        set(&mut flags, "enable_heap_access_spectre_mitigation", "false")?;
        set(
            &mut flags,
            "enable_table_access_spectre_mitigation",
            "false",
        )?;
        set(&mut flags, "enable_nan_canonicalization", "false")?;
        set(&mut flags, "libcall_call_conv", "isa_default")?;
        // Results beyond the return registers (more than 8 integer or 8
        // float results of a `tail` function on x86_64) go to a return
        // area in the caller's frame whose address Cranelift passes as an
        // extra argument. Every caller and callee of a wasm function is
        // code compiled here (wasm, the host<->wasm trampolines), so the
        // layout needs to agree only with itself; a tail call forwards the
        // caller's area (wasm requires equal result types). The setting is
        // part of the fingerprint like every shared flag.
        set(&mut flags, "enable_multi_ret_implicit_sret", "true")?;
        let isa_builder = cranelift_native::builder()
            .map_err(|e| anyhow!("unsupported host for code generation: {e}"))?;
        isa_builder
            .finish(settings::Flags::new(flags))
            .context("failed to configure the Cranelift target")
    }

    /// The ISA to compile `func` with: unoptimised when it is very large.
    fn isa_for(&self, func: &ir::Function) -> &dyn isa::TargetIsa {
        if func.layout.blocks().nth(MAX_OPTIMIZED_BLOCKS).is_some() {
            &*self.unoptimized_isa
        } else {
            &*self.isa
        }
    }

    /// The target ISA.
    pub fn isa(&self) -> &dyn isa::TargetIsa {
        &*self.isa
    }

    /// Every setting that changes the code this compiler generates, as
    /// `(name, value)` pairs in a fixed order: the target triple, each
    /// shared Cranelift flag, each target-specific flag (the detected CPU
    /// features) and weft's own code generation options. Two compilers
    /// with equal fingerprints produce interchangeable code.
    pub fn fingerprint(&self) -> Vec<(String, String)> {
        let mut out = vec![("target".to_string(), self.isa.triple().to_string())];
        for v in self.isa.flags().iter() {
            out.push((format!("cranelift.{}", v.name), v.value_string()));
        }
        for v in self.isa.isa_flags() {
            out.push((format!("cpu.{}", v.name), v.value_string()));
        }
        let CompilerOptions {
            epoch_interruption,
            consume_fuel,
        } = self.options;
        out.push((
            "weft.epoch_interruption".to_string(),
            epoch_interruption.to_string(),
        ));
        out.push(("weft.consume_fuel".to_string(), consume_fuel.to_string()));
        out
    }

    /// The DWARF common information entry that the unwind info of every
    /// function compiled here (`CompiledFunction::unwind`, System V
    /// variant) refers to; `None` if the target has no System V unwinding.
    pub fn systemv_cie(&self) -> Option<gimli::write::CommonInformationEntry> {
        self.isa.create_systemv_cie()
    }

    /// Translates and compiles defined function `func_index` of `info`,
    /// validating its body while translating.
    pub fn compile_function(
        &self,
        info: &ModuleInfo,
        func_index: u32,
        body: FunctionBodyData<'_>,
        allocs: FuncValidatorAllocations,
    ) -> Result<(CompiledFunction, FuncValidatorAllocations)> {
        let (mut ctx, allocs) = self.translate(info, func_index, body, allocs)?;
        if std::env::var_os("WEFT_DEBUG_CLIF").is_some() {
            eprintln!("function {func_index}:\n{}", ctx.func.display());
        }
        let compiled = self.finish_plain(&mut ctx)?;
        Ok((compiled, allocs))
    }

    /// Debugging aid: the CLIF of defined function `func_index` as
    /// translated, the CLIF after Cranelift's optimisations, and the
    /// machine code listing (VCode after register allocation).
    pub fn function_listing(
        &self,
        info: &ModuleInfo,
        func_index: u32,
        body: FunctionBodyData<'_>,
    ) -> Result<[String; 3]> {
        let (mut ctx, _) = self.translate(info, func_index, body, Default::default())?;
        let before = ctx.func.display().to_string();
        ctx.set_disasm(true);
        let mut ctrl = Default::default();
        let code = ctx
            .compile(&*self.isa, &mut ctrl)
            .map_err(|e| anyhow!("code generation failed: {:?}", e.inner))?;
        let vcode = code.vcode.clone().unwrap_or_default();
        Ok([before, ctx.func.display().to_string(), vcode])
    }

    /// Validates and translates a function body into a fresh context.
    /// Source locations are module-relative byte offsets (the operator
    /// reader's positions), which become the address map.
    fn translate(
        &self,
        info: &ModuleInfo,
        func_index: u32,
        body: FunctionBodyData<'_>,
        allocs: FuncValidatorAllocations,
    ) -> Result<(Context, FuncValidatorAllocations)> {
        let mut validator = body.validator.into_validator(allocs);
        let mut ctx = Context::new();
        ctx.func.signature = env::wasm_signature(&*self.isa, info.func_type(func_index));
        ctx.func.name = UserFuncName::user(0, func_index);
        let mut fctx = cranelift_frontend::FunctionBuilderContext::new();
        translate::translate_function(
            &*self.isa,
            &self.options,
            info,
            func_index,
            &body.body,
            &mut validator,
            &mut ctx.func,
            &mut fctx,
        )?;
        Ok((ctx, validator.into_allocations()))
    }

    /// Compiles a trampoline of `kind` for function type `ty`.
    pub fn compile_trampoline(
        &self,
        kind: TrampolineKind,
        ty: &weft_environ::wasmparser::FuncType,
    ) -> Result<CompiledFunction> {
        let mut ctx = Context::new();
        trampolines::build(&*self.isa, kind, ty, &mut ctx.func);
        self.finish_plain(&mut ctx)
    }

    fn finish_plain(&self, ctx: &mut Context) -> Result<CompiledFunction> {
        let mut ctrl = Default::default();
        let names = ctx.func.params.user_named_funcs().clone();
        let isa = self.isa_for(&ctx.func);
        let disasm = std::env::var_os("WEFT_DEBUG_ASM").is_some();
        ctx.set_disasm(disasm);
        let fname = ctx.func.name.to_string();
        let code = ctx
            .compile(isa, &mut ctrl)
            .map_err(|e| anyhow!("code generation failed: {:?}", e.inner))?;
        if disasm && let Some(text) = &code.vcode {
            eprintln!("{fname}:\n{text}");
        }
        let mut relocs = Vec::new();
        for r in code.buffer.relocs() {
            let target = match &r.target {
                FinalizedRelocTarget::ExternalName(ExternalName::User(name)) => {
                    let UserExternalName { index, .. } = names[*name];
                    RelocTarget::Function(index)
                }
                FinalizedRelocTarget::ExternalName(ExternalName::LibCall(l)) => {
                    RelocTarget::LibCall(*l)
                }
                FinalizedRelocTarget::Func(off) => RelocTarget::SelfOffset(*off),
                other => return Err(anyhow!("unexpected relocation target {other:?}")),
            };
            relocs.push(Relocation {
                offset: r.offset,
                kind: r.kind,
                target,
                addend: r.addend,
            });
        }
        let mut traps = Vec::new();
        for t in code.buffer.traps() {
            let trap = trap_from_code(t.code);
            traps.push((t.offset, trap));
        }
        traps.sort_by_key(|t| t.0);
        let mut address_map = Vec::new();
        for s in code.buffer.get_srclocs_sorted() {
            if !s.loc.is_default() {
                address_map.push((s.start, s.loc.bits()));
            }
        }
        let unwind = code
            .create_unwind_info(isa)
            .map_err(|e| anyhow!("unwind info generation failed: {e:?}"))?;
        let mut call_sites = Vec::new();
        for site in code.buffer.call_sites() {
            if site.exception_handlers.is_empty() {
                continue;
            }
            let mut context = None;
            let mut handlers = Vec::new();
            for h in site.exception_handlers {
                use cranelift_codegen::{ExceptionContextLoc, FinalizedMachExceptionHandler as H};
                match *h {
                    H::Context(ExceptionContextLoc::SPOffset(off)) => context = Some(off),
                    H::Context(ExceptionContextLoc::GPR(_)) => {
                        return Err(anyhow!(
                            "exception handler context kept in a register across a call"
                        ));
                    }
                    H::Tag(tag, offset) => handlers.push(Handler {
                        tag: Some(tag.as_u32()),
                        offset,
                        context_sp_offset: context,
                    }),
                    H::Default(offset) => handlers.push(Handler {
                        tag: None,
                        offset,
                        context_sp_offset: context,
                    }),
                }
            }
            call_sites.push(CallSite {
                ret: site.ret_addr,
                frame_offset: site
                    .frame_offset
                    .ok_or_else(|| anyhow!("try_call without a frame offset"))?,
                handlers,
            });
        }
        call_sites.sort_by_key(|c| c.ret);
        let stack_maps = code
            .buffer
            .user_stack_maps()
            .iter()
            .map(|(ret, span, map)| StackMap {
                ret: *ret,
                frame_size: *span,
                slots: map.entries().map(|(_, off)| off).collect(),
            })
            .collect();
        Ok(CompiledFunction {
            code: code.code_buffer().to_vec(),
            alignment: code.buffer.alignment.max(16),
            relocs,
            traps,
            address_map,
            unwind,
            call_sites,
            stack_maps,
        })
    }
}

use cranelift_codegen::ir::UserFuncName;

/// Maps a Cranelift trap code to weft's.
pub fn trap_from_code(code: ir::TrapCode) -> Trap {
    match code {
        ir::TrapCode::STACK_OVERFLOW => Trap::StackOverflow,
        ir::TrapCode::HEAP_OUT_OF_BOUNDS => Trap::MemoryOutOfBounds,
        ir::TrapCode::INTEGER_OVERFLOW => Trap::IntegerOverflow,
        ir::TrapCode::INTEGER_DIVISION_BY_ZERO => Trap::IntegerDivisionByZero,
        ir::TrapCode::BAD_CONVERSION_TO_INTEGER => Trap::BadConversionToInteger,
        other => Trap::from_u8(other.as_raw().get()).unwrap_or(Trap::Unsupported),
    }
}

/// Maps weft's trap to the Cranelift code recorded in generated code.
pub fn trap_code(trap: Trap) -> ir::TrapCode {
    match trap {
        Trap::StackOverflow => ir::TrapCode::STACK_OVERFLOW,
        Trap::MemoryOutOfBounds => ir::TrapCode::HEAP_OUT_OF_BOUNDS,
        Trap::IntegerOverflow => ir::TrapCode::INTEGER_OVERFLOW,
        Trap::IntegerDivisionByZero => ir::TrapCode::INTEGER_DIVISION_BY_ZERO,
        Trap::BadConversionToInteger => ir::TrapCode::BAD_CONVERSION_TO_INTEGER,
        other => ir::TrapCode::unwrap_user(other.as_u8()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_codes_round_trip() {
        for t in Trap::ALL {
            assert_eq!(trap_from_code(trap_code(*t)), *t);
        }
    }

    #[test]
    fn builtin_signatures_match_their_declarations() {
        let compiler = Compiler::new_native("none", CompilerOptions::default()).unwrap();
        let isa = compiler.isa();
        for b in weft_environ::Builtin::ALL {
            let declared = b.signature();
            let sig = env::builtin_signature(isa, *b);
            assert_eq!(sig.call_conv, isa.default_call_conv(), "{b:?}");
            let sizes = |ps: &[ir::AbiParam]| -> Vec<u32> {
                ps.iter().map(|p| p.value_type.bytes()).collect()
            };
            let declared_params: Vec<u32> = declared.params.iter().map(|t| t.size()).collect();
            assert_eq!(sizes(&sig.params), declared_params, "{b:?} parameters");
            let declared_result: Vec<u32> = declared.result.iter().map(|t| t.size()).collect();
            assert_eq!(sizes(&sig.returns), declared_result, "{b:?} result");
            assert!(
                sig.params
                    .iter()
                    .chain(&sig.returns)
                    .all(|p| p.value_type.is_int()),
                "{b:?}: builtins pass integers and pointers only"
            );
        }
    }
}
