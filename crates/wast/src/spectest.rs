//! The `spectest` host module, as the spec interpreter defines it
//! (`interpreter/host/spectest.ml`), built through weft's public API:
//!
//! | export | definition |
//! |---|---|
//! | `print` | `(func)` |
//! | `print_i32` | `(func (param i32))` |
//! | `print_i64` | `(func (param i64))` |
//! | `print_f32` | `(func (param f32))` |
//! | `print_f64` | `(func (param f64))` |
//! | `print_i32_f32` | `(func (param i32 f32))` |
//! | `print_f64_f64` | `(func (param f64 f64))` |
//! | `global_i32` | `(global i32 (i32.const 666))` |
//! | `global_i64` | `(global i64 (i64.const 666))` |
//! | `global_f32` | `(global f32 (f32.const 666.6))` |
//! | `global_f64` | `(global f64 (f64.const 666.6))` |
//! | `table` | `(table 10 20 funcref)` |
//! | `table64` | `(table i64 10 20 funcref)` |
//! | `memory` | `(memory 1 2)` |
//! | `shared_memory` | `(memory 1 2 shared)` (only when the engine accepts shared memories) |
//!
//! The `print*` functions write their arguments to stdout like the spec
//! interpreter (`42 : i32`) when printing is enabled, and do nothing
//! otherwise.

use anyhow::Result;
use weft::{
    FuncType, Global, GlobalType, Linker, Memory, MemoryType, Mutability, RefType, Store, Table,
    TableType, Val, ValType,
};

/// Defines the `spectest` module in `linker`, creating its entities in
/// `store`. With `print`, the `print*` functions print their arguments.
pub fn link_spectest(linker: &mut Linker<()>, store: &mut Store<()>, print: bool) -> Result<()> {
    let funcs: [(&str, &[ValType]); 7] = [
        ("print", &[]),
        ("print_i32", &[ValType::I32]),
        ("print_i64", &[ValType::I64]),
        ("print_f32", &[ValType::F32]),
        ("print_f64", &[ValType::F64]),
        ("print_i32_f32", &[ValType::I32, ValType::F32]),
        ("print_f64_f64", &[ValType::F64, ValType::F64]),
    ];
    for (name, params) in funcs {
        let ty = FuncType::new(params.iter().copied(), []);
        linker.func_new("spectest", name, ty, move |_, args, _| {
            if print {
                for arg in args {
                    println!("{}", print_val(arg));
                }
            }
            Ok(())
        })?;
    }

    let globals = [
        ("global_i32", Val::I32(666)),
        ("global_i64", Val::I64(666)),
        ("global_f32", Val::F32(666.6f32.to_bits())),
        ("global_f64", Val::F64(666.6f64.to_bits())),
    ];
    for (name, init) in globals {
        let ty = GlobalType::new(init.ty(), Mutability::Const);
        let global = Global::new(&mut *store, ty, init)?;
        linker.define("spectest", name, global)?;
    }

    let table = Table::new(
        &mut *store,
        TableType::new(RefType::FUNCREF, 10, Some(20)),
        Val::FuncRef(None),
    )?;
    linker.define("spectest", "table", table)?;
    let table64 = Table::new(
        &mut *store,
        TableType {
            element: RefType::FUNCREF,
            min: 10,
            max: Some(20),
            table64: true,
        },
        Val::FuncRef(None),
    )?;
    linker.define("spectest", "table64", table64)?;

    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2)))?;
    linker.define("spectest", "memory", memory)?;
    // Shared memories need the threads proposal; without it the import is
    // simply missing (only `proposals/threads` uses it).
    let shared = MemoryType {
        shared: true,
        ..MemoryType::new(1, Some(2))
    };
    if let Ok(m) = Memory::new(&mut *store, shared) {
        linker.define("spectest", "shared_memory", m)?;
    }
    Ok(())
}

/// A value the way the spec interpreter prints it (`42 : i32`).
fn print_val(v: &Val) -> String {
    match v {
        Val::I32(x) => format!("{x} : i32"),
        Val::I64(x) => format!("{x} : i64"),
        Val::F32(b) => format!("{} : f32", f32::from_bits(*b)),
        Val::F64(b) => format!("{} : f64", f64::from_bits(*b)),
        Val::V128(x) => format!("{x:#034x} : v128"),
        Val::FuncRef(_) => "funcref".to_string(),
        Val::ExternRef(_) => "externref".to_string(),
        Val::ContRef(_) => "contref".to_string(),
        Val::ExnRef(_) => "exnref".to_string(),
        Val::AnyRef(_) => "anyref".to_string(),
    }
}
