//! Parsing and validating a module into a [`ModuleInfo`] plus the function
//! bodies that the compiler translates.
//!
//! Validation of the module's sections happens here; function bodies are
//! validated later, while they are translated (one `FuncValidator` each, so
//! they can be compiled in parallel).

use crate::module::*;
use anyhow::{Result, anyhow, bail};
use wasmparser::{
    ElementItems as WElementItems, ElementKind, ExternalKind, FuncToValidate, FunctionBody,
    KnownCustom, Name, Operator, Parser, Payload, TableInit, TypeRef, Validator,
    ValidatorResources, WasmFeatures,
};

/// The body of one defined function, ready for translation.
pub struct FunctionBodyData<'a> {
    /// The function's body bytes.
    pub body: FunctionBody<'a>,
    /// The validator to run while translating it.
    pub validator: FuncToValidate<ValidatorResources>,
}

/// The result of [`translate_module`].
pub struct ModuleTranslation<'a> {
    /// Static module description.
    pub info: ModuleInfo,
    /// Bodies of defined functions, in function index order.
    pub bodies: Vec<FunctionBodyData<'a>>,
}

/// The WebAssembly features weft validates against by default: Wasm 3.0
/// minus what the engine cannot run yet.
pub fn default_features() -> WasmFeatures {
    let mut f = WasmFeatures::WASM2
        | WasmFeatures::TAIL_CALL
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::MULTI_MEMORY
        | WasmFeatures::MEMORY64
        | WasmFeatures::FUNCTION_REFERENCES
        | WasmFeatures::RELAXED_SIMD
        | WasmFeatures::CUSTOM_PAGE_SIZES
        | WasmFeatures::WIDE_ARITHMETIC
        | WasmFeatures::GC
        | WasmFeatures::GC_TYPES
        // Exact reference types and struct descriptors (an extension of
        // GC, `weft_environ::gc` has the layout).
        | WasmFeatures::CUSTOM_DESCRIPTORS
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::STACK_SWITCHING
        // The pre-3.0 instructions (`try`, `catch`, `rethrow`, `delegate`)
        // that older toolchains still emit; enabled with exceptions.
        | WasmFeatures::LEGACY_EXCEPTIONS;
    f.remove(WasmFeatures::THREADS);
    f
}

fn const_expr(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr> {
    let mut ops = smallvec::SmallVec::new();
    let mut reader = expr.get_operators_reader();
    while !reader.eof() {
        let op = reader.read()?;
        ops.push(match op {
            Operator::I32Const { value } => ConstOp::I32Const(value),
            Operator::I64Const { value } => ConstOp::I64Const(value),
            Operator::F32Const { value } => ConstOp::F32Const(value.bits()),
            Operator::F64Const { value } => ConstOp::F64Const(value.bits()),
            Operator::V128Const { value } => ConstOp::V128Const(value.i128() as u128),
            Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            Operator::RefNull { .. } => ConstOp::RefNull,
            Operator::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            Operator::I32Add => ConstOp::I32Add,
            Operator::I32Sub => ConstOp::I32Sub,
            Operator::I32Mul => ConstOp::I32Mul,
            Operator::I64Add => ConstOp::I64Add,
            Operator::I64Sub => ConstOp::I64Sub,
            Operator::I64Mul => ConstOp::I64Mul,
            Operator::End => continue,
            Operator::RefI31 => ConstOp::RefI31,
            Operator::StructNew { struct_type_index } => ConstOp::StructNew(struct_type_index),
            Operator::StructNewDefault { struct_type_index } => {
                ConstOp::StructNewDefault(struct_type_index)
            }
            Operator::StructNewDesc { struct_type_index } => {
                ConstOp::StructNewDesc(struct_type_index)
            }
            Operator::StructNewDefaultDesc { struct_type_index } => {
                ConstOp::StructNewDefaultDesc(struct_type_index)
            }
            Operator::ArrayNew { array_type_index } => ConstOp::ArrayNew(array_type_index),
            Operator::ArrayNewDefault { array_type_index } => {
                ConstOp::ArrayNewDefault(array_type_index)
            }
            Operator::ArrayNewFixed {
                array_type_index,
                array_size,
            } => ConstOp::ArrayNewFixed(array_type_index, array_size),
            // Host references and objects share one encoding (see
            // `gc_object`): the conversions are the identity.
            Operator::AnyConvertExtern | Operator::ExternConvertAny => continue,
            other => bail!("unsupported operator in constant expression: {other:?}"),
        });
    }
    Ok(ConstExpr { ops })
}

/// Parses and validates `wasm` (binary format) with `features`.
///
/// Errors carry the validator's message and byte offset.
pub fn translate_module(wasm: &[u8], features: WasmFeatures) -> Result<ModuleTranslation<'_>> {
    translate_module_with_limits(wasm, features, &crate::ModuleLimits::default())
}

/// [`translate_module`], refusing modules beyond `limits` (checked while
/// parsing, before the offending part is stored or compiled).
pub fn translate_module_with_limits<'a>(
    wasm: &'a [u8],
    features: WasmFeatures,
    limits: &crate::ModuleLimits,
) -> Result<ModuleTranslation<'a>> {
    translate(wasm, Some(Validator::new_with_features(features)), limits)
}

/// The [`ModuleInfo`] of a module that was validated before, with the
/// same features: the module of a precompiled artifact or code-cache
/// entry, whose bytes are covered by the artifact's checksum. Parses
/// without validating (about half the work for a module with many data
/// segments) and skips the function bodies; malformed bytes are still an
/// error, never a crash.
pub fn module_info_of_validated(wasm: &[u8]) -> Result<ModuleInfo> {
    Ok(translate(wasm, None, &crate::ModuleLimits::default())?.info)
}

fn translate<'a>(
    wasm: &'a [u8],
    mut validator: Option<Validator>,
    limits: &crate::ModuleLimits,
) -> Result<ModuleTranslation<'a>> {
    limits.check_module_size(wasm.len())?;
    let mut info = ModuleInfo::default();
    let mut bodies = Vec::new();

    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        match &mut validator {
            Some(validator) => {
                if let wasmparser::ValidPayload::Func(validator, body) =
                    validator.payload(&payload)?
                {
                    limits.check_body(info.num_imported_funcs + bodies.len() as u32, &body)?;
                    bodies.push(FunctionBodyData { body, validator });
                    continue;
                }
            }
            None => {
                if let Payload::CodeSectionEntry(_) = payload {
                    continue;
                }
            }
        }
        match payload {
            Payload::Version { encoding, .. } if encoding != wasmparser::Encoding::Module => {
                bail!("components are not supported; expected a core WebAssembly module");
            }
            Payload::TypeSection(reader) => {
                for group in reader {
                    let group = group?;
                    let start = info.types.len() as u32;
                    let len = group.types().len() as u32;
                    for sub in group.into_types() {
                        info.types.push(ModuleType {
                            sub,
                            rec_group_start: start,
                            rec_group_len: len,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    if matches!(import.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)) {
                        limits.check_functions(info.functions.len() as u64 + 1)?;
                    }
                    let index = match import.ty {
                        TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                            info.functions.push(ty);
                            info.num_imported_funcs += 1;
                            EntityIndex::Function(info.functions.len() as u32 - 1)
                        }
                        TypeRef::Table(ty) => {
                            info.tables.push(TableDecl { ty, init: None });
                            info.num_imported_tables += 1;
                            EntityIndex::Table(info.tables.len() as u32 - 1)
                        }
                        TypeRef::Memory(ty) => {
                            info.memories.push(ty);
                            info.num_imported_memories += 1;
                            EntityIndex::Memory(info.memories.len() as u32 - 1)
                        }
                        TypeRef::Global(ty) => {
                            info.globals.push(ty);
                            info.num_imported_globals += 1;
                            EntityIndex::Global(info.globals.len() as u32 - 1)
                        }
                        TypeRef::Tag(tag) => {
                            info.tags.push(tag.func_type_idx);
                            info.num_imported_tags += 1;
                            EntityIndex::Tag(info.tags.len() as u32 - 1)
                        }
                    };
                    info.imports.push(Import {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        index,
                        exact: matches!(import.ty, TypeRef::FuncExact(_)),
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                limits.check_functions(info.functions.len() as u64 + u64::from(reader.count()))?;
                for ty in reader {
                    info.functions.push(ty?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table?;
                    let init = match &table.init {
                        TableInit::RefNull => None,
                        TableInit::Expr(e) => Some(const_expr(e)?),
                    };
                    info.tables.push(TableDecl { ty: table.ty, init });
                }
            }
            Payload::MemorySection(reader) => {
                for mem in reader {
                    info.memories.push(mem?);
                }
            }
            Payload::TagSection(reader) => {
                for tag in reader {
                    info.tags.push(tag?.func_type_idx);
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    let global = global?;
                    info.globals.push(global.ty);
                    info.global_inits.push(const_expr(&global.init_expr)?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    let index = match export.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => {
                            EntityIndex::Function(export.index)
                        }
                        ExternalKind::Table => EntityIndex::Table(export.index),
                        ExternalKind::Memory => EntityIndex::Memory(export.index),
                        ExternalKind::Global => EntityIndex::Global(export.index),
                        ExternalKind::Tag => EntityIndex::Tag(export.index),
                    };
                    info.exports.push((export.name.to_string(), index));
                }
            }
            Payload::StartSection { func, .. } => info.start = Some(func),
            Payload::ElementSection(reader) => {
                for elem in reader {
                    let elem = elem?;
                    let mode = match elem.kind {
                        ElementKind::Passive => SegmentMode::Passive,
                        ElementKind::Declared => SegmentMode::Declared,
                        ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => SegmentMode::Active {
                            index: table_index.unwrap_or(0),
                            offset: const_expr(&offset_expr)?,
                        },
                    };
                    let (ty, items) = match elem.items {
                        WElementItems::Functions(funcs) => (
                            wasmparser::RefType::FUNCREF,
                            ElemItems::Functions(funcs.into_iter().collect::<Result<_, _>>()?),
                        ),
                        WElementItems::Expressions(ty, exprs) => {
                            let mut v = Vec::new();
                            for e in exprs {
                                v.push(const_expr(&e?)?);
                            }
                            (ty, ElemItems::Exprs(v))
                        }
                    };
                    info.elems.push(ElemSegment { mode, ty, items });
                }
            }
            Payload::DataSection(reader) => {
                let r = reader.range();
                info.data_bytes.reserve((r.end - r.start) as usize);
                for data in reader {
                    let data = data?;
                    let mode = match data.kind {
                        wasmparser::DataKind::Passive => SegmentMode::Passive,
                        wasmparser::DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => SegmentMode::Active {
                            index: memory_index,
                            offset: const_expr(&offset_expr)?,
                        },
                    };
                    let start = info.data_bytes.len();
                    info.data_bytes.extend_from_slice(data.data);
                    info.data.push(DataSegment {
                        mode,
                        range: start..info.data_bytes.len(),
                    });
                }
            }
            Payload::CustomSection(reader) => {
                if let KnownCustom::Name(names) = reader.as_known() {
                    // A malformed name section is not an error (the spec
                    // says custom sections are ignored); keep what parses.
                    let _ = read_names(names, &mut info);
                }
            }
            Payload::ComponentSection { .. } | Payload::ModuleSection { .. } => {
                bail!("components are not supported")
            }
            _ => {}
        }
    }
    // (Without a validator the bodies are skipped, not collected.)
    if validator.is_some()
        && info.functions.len() - info.num_imported_funcs as usize != bodies.len()
    {
        return Err(anyhow!(
            "function and code section have inconsistent lengths"
        ));
    }
    Ok(ModuleTranslation { info, bodies })
}

fn read_names(names: wasmparser::NameSectionReader<'_>, info: &mut ModuleInfo) -> Result<()> {
    for name in names {
        match name? {
            Name::Module { name, .. } => info.name = Some(name.to_string()),
            Name::Function(map) => {
                for naming in map {
                    let naming = naming?;
                    info.func_names
                        .insert(naming.index, naming.name.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A hand-assembled module: (module (func (export "f") (result i32) i32.const 7))
    const SMALL: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
        0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type section: () -> i32
        0x03, 0x02, 0x01, 0x00, // function section
        0x07, 0x05, 0x01, 0x01, b'f', 0x00, 0x00, // export "f" func 0
        0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x07, 0x0b, // code
    ];

    #[test]
    fn reads_types_functions_exports() {
        let t = translate_module(SMALL, default_features()).unwrap();
        assert_eq!(t.info.types.len(), 1);
        assert_eq!(t.info.functions, vec![0]);
        assert_eq!(
            t.info.exports,
            vec![("f".to_string(), EntityIndex::Function(0))]
        );
        assert_eq!(t.bodies.len(), 1);
        assert_eq!(t.info.func_type(0).results(), &[wasmparser::ValType::I32]);
    }

    #[test]
    fn invalid_module_has_offset_in_error() {
        let mut bad = SMALL.to_vec();
        // Export a function index that does not exist.
        bad[25] = 0x05;
        let err = translate_module(&bad, default_features()).err().unwrap();
        let msg = format!("{err:#}");
        assert!(msg.contains("offset"), "{msg}");
    }
}
