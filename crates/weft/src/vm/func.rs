//! Calling functions: host -> wasm entry, host functions, their trampolines.

use super::entry::{EntryCall, catch_traps};
use super::module::{RegisteredCode, publish_single};
use super::store::{FuncData, FuncKind, HostFunc, Pending, StoreOpaque, mask};
use super::traphandlers::TrapRecord;
use super::vmcontext::{VMFuncRef, VMHostFuncContext, ValRaw};
use crate::store::StoreInner;
use crate::types::{FuncType, ValType};
use crate::{Caller, Func, Instance, Result, Trap, Val};
use anyhow::{anyhow, bail};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use weft_cranelift::TrampolineKind;
use weft_environ::VMHOSTFUNC_MAGIC;
use weft_environ::wasmparser as wp;

/// The type-erased body of a host function:
/// `(store, caller_vmctx, values) -> Result<()>`.
pub(crate) type HostCallFn =
    dyn Fn(*mut StoreOpaque, *mut u8, &mut [ValRaw]) -> Result<()> + Send + Sync;

/// Wasm-to-host trampolines, one per canonical function type, shared by
/// every store of an engine.
#[derive(Default)]
pub(crate) struct HostTrampolines {
    map: Mutex<HashMap<u32, (Arc<RegisteredCode>, usize)>>,
}

impl HostTrampolines {
    fn get(
        &self,
        engine: &crate::Engine,
        id: u32,
        ty: &FuncType,
    ) -> Result<(Arc<RegisteredCode>, usize)> {
        let mut map = self.map.lock().unwrap();
        if let Some(e) = map.get(&id) {
            return Ok(e.clone());
        }
        let wp_ty = to_wasmparser(ty);
        let f = engine
            .inner
            .compiler
            .compile_trampoline(TrampolineKind::WasmToHost, &wp_ty)?;
        let entry = publish_single(engine, &f, format!("trampoline::wasm_to_host::type[{id}]"))?;
        map.insert(id, entry.clone());
        Ok(entry)
    }
}

/// A wasmparser function type with the same machine-level shape (references
/// are all pointers, so their heap types do not matter here).
fn to_wasmparser(ty: &FuncType) -> wp::FuncType {
    let conv = |v: &ValType| match v {
        ValType::I32 => wp::ValType::I32,
        ValType::I64 => wp::ValType::I64,
        ValType::F32 => wp::ValType::F32,
        ValType::F64 => wp::ValType::F64,
        ValType::V128 => wp::ValType::V128,
        ValType::Ref(_) => wp::ValType::Ref(wp::RefType::FUNCREF),
    };
    wp::FuncType::new(ty.params().iter().map(conv), ty.results().iter().map(conv))
}

/// The instance that owns `caller_vmctx` (null when called from the host).
pub(crate) fn caller_instance(store: &StoreOpaque, caller_vmctx: *mut u8) -> Option<Instance> {
    if caller_vmctx.is_null() {
        return None;
    }
    // SAFETY: a non-null caller vmctx is that of the live instance whose
    // wasm code called us.
    let inst = unsafe { super::instance::InstanceData::from_vmctx(caller_vmctx) };
    Some(Instance {
        store: store.id,
        index: inst.index,
    })
}

/// Creates a host function in `store` from a closure over `Val`s.
pub(crate) fn new_host_func<T: 'static>(
    store: &mut StoreInner<T>,
    ty: FuncType,
    f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
) -> Func {
    let params_ty = ty.clone();
    let call = move |store: *mut StoreOpaque, caller_vmctx: *mut u8, raw: &mut [ValRaw]| {
        // SAFETY: `store` is the `StoreInner<T>` this function was created
        // in (host functions never move between stores), and no other
        // reference to it is used while the host function runs.
        let inner = unsafe { &mut *(store as *mut StoreInner<T>) };
        let mut params = Vec::with_capacity(params_ty.params().len());
        for (i, t) in params_ty.params().iter().enumerate() {
            params.push(inner.opaque.raw_to_val(raw[i].bits & mask(t), t));
        }
        let mut results: Vec<Val> = params_ty.results().iter().map(Val::default_for).collect();
        let caller = caller_instance(&inner.opaque, caller_vmctx);
        f(
            Caller {
                store: crate::StoreContextMut(inner),
                caller,
            },
            &params,
            &mut results,
        )?;
        // SAFETY: as above; the caller's borrow has ended.
        let inner = unsafe { &mut *(store as *mut StoreInner<T>) };
        for (i, (v, t)) in results.iter().zip(params_ty.results()).enumerate() {
            raw[i].bits = inner
                .opaque
                .val_to_raw(v, t)
                .map_err(|e| anyhow!("host function returned a bad result {i}: {e}"))?;
        }
        Ok(())
    };
    new_host_func_raw(&mut store.opaque, ty, Box::new(call))
}

/// Creates a host function in `store` from a closure over raw value slots.
pub(crate) fn new_host_func_raw(
    store: &mut StoreOpaque,
    ty: FuncType,
    call: Box<HostCallFn>,
) -> Func {
    new_host_func_native(store, ty, call, None)
}

/// Whether host functions of type `ty` may have a native-ABI entry (see
/// `weft_environ::native_host_abi`).
pub(crate) fn native_abi(ty: &FuncType) -> bool {
    weft_environ::native_host_abi(&to_wasmparser(ty))
}

/// A host function's native-ABI entry: the `extern "C"` function the
/// wasm-to-host trampoline calls directly, and the closure it calls.
#[derive(Clone, Copy)]
pub(crate) struct NativeEntry {
    pub(crate) call: usize,
    pub(crate) data: *const u8,
}

/// The store and closure of a native-ABI host call.
///
/// # Safety
///
/// `hctx` must be the host context a wasm-to-host trampoline called a
/// native entry with.
pub(crate) unsafe fn native_host_parts(hctx: *mut u8) -> (*mut StoreOpaque, *const u8) {
    // SAFETY: (contract) a live host context; its host data is the boxed
    // HostFunc, alive as long as the store.
    unsafe {
        let hctx = &*hctx.cast::<VMHostFuncContext>();
        let host = &*(hctx.host_data as *const HostFunc);
        (host.store, hctx.native_data)
    }
}

/// A native-ABI host call failed with an error (`Ok`) or a panic (`Err`):
/// parks it in the store, or throws a wasm exception into the caller
/// (does not return then), as the `HostCall` builtin does; the entry
/// then returns `ok = 0` and the trampoline traps with `HostError`.
///
/// # Safety
///
/// Called by a native entry (through its trampoline) that owns nothing
/// needing a drop any more; `store` is its store, not borrowed elsewhere.
pub(crate) unsafe fn native_host_failed(
    store: *mut StoreOpaque,
    failure: std::result::Result<crate::Error, Box<dyn std::any::Any + Send>>,
) {
    // SAFETY: (contract) the host function's borrow has ended.
    let store = unsafe { &mut *store };
    match failure {
        // SAFETY: forwarded from the contract.
        Ok(e) => unsafe { super::builtins::host_error(store, e) },
        Err(panic) => store.pending = Some(Pending::Panic(panic)),
    }
}

/// Creates a host function in `store` from a closure over raw value slots,
/// with a native-ABI entry when `native` is given (only for types that
/// [`native_abi`] accepts).
pub(crate) fn new_host_func_native(
    store: &mut StoreOpaque,
    ty: FuncType,
    call: Box<HostCallFn>,
    native: Option<NativeEntry>,
) -> Func {
    debug_assert!(native.is_none() || native_abi(&ty));
    let engine = store.engine.clone();
    let type_id = engine.inner.types.register_func_type(&ty);
    let (code, tramp) = engine
        .inner
        .host_trampolines
        .get(&engine, type_id, &ty)
        .expect("failed to compile a host function trampoline");
    let mut ctx = Box::new(VMHostFuncContext {
        magic: VMHOSTFUNC_MAGIC,
        _pad: 0,
        store_ctx: &*store.vm_store_ctx as *const _ as *mut _,
        builtins: super::builtins::table_address() as *const usize,
        host_data: std::ptr::null_mut(),
        func_ref: VMFuncRef {
            wasm_call: tramp as *const u8,
            vmctx: std::ptr::null_mut(),
            native_call: native.map_or(std::ptr::null(), |n| n.call as *const u8),
            type_id,
        },
        native_data: native.map_or(std::ptr::null(), |n| n.data),
    });
    ctx.func_ref.vmctx = &mut *ctx as *mut VMHostFuncContext as *mut u8;
    let store_ptr: *mut StoreOpaque = store;
    let mut host = Box::new(HostFunc {
        ctx,
        call,
        store: store_ptr,
        _code: code,
    });
    let host_ptr: *mut HostFunc = &mut *host;
    host.ctx.host_data = host_ptr as *mut u8;
    let funcref = &host.ctx.func_ref as *const VMFuncRef;
    store.push_func(FuncData {
        kind: FuncKind::Host(host),
        funcref,
        type_id,
    })
}

/// Makes `call`, which enters generated code, as a host->wasm entry with
/// traps caught. The outermost entry on a stack sets that stack's
/// wasm limit.
///
/// # Safety
/// `call` must be safe to make (see [`catch_traps`]), and may only run
/// generated code (and what that calls) besides its own bounded code.
pub(crate) unsafe fn enter_wasm(store: &mut StoreOpaque, call: &EntryCall) -> Result<()> {
    let ctx = &*store.vm_store_ctx;
    // SAFETY: the current record is the store's native record or that of
    // the fiber running this code; both outlive this call.
    let record = unsafe { &*ctx.current_stack.get() };
    if !record.is_active() {
        let config = store.engine.config();
        if std::ptr::eq(record, &*store.native_stack) {
            // The store may have moved to another thread since its last
            // call: describe the stack we are on now.
            let (low, high) = weft_sys::thread_stack::bounds();
            record.set_bounds(low, high, config.host_stack_reserve);
        }
        // An address in this frame: where the stack stands now.
        let here = &store as *const _ as usize;
        // Wasm frames stay above the host reserve too, so a host function
        // called from the deepest wasm frame still has its reserve.
        let floor = record.host_limit.get();
        if here <= floor {
            bail!(Trap::StackOverflow);
        }
        let limit = here.saturating_sub(config.max_wasm_stack).max(floor);
        record.stack_limit.set(limit);
    }
    // SAFETY: `call` is safe to make (contract); the store context's
    // current record describes this stack (set above, or by the fiber
    // poller).
    let result = unsafe { catch_traps(ctx, call) };
    result.map_err(|record| trap_error(store, record))
}

/// Turns a trap record into the error callers see.
fn trap_error(store: &mut StoreOpaque, record: TrapRecord) -> anyhow::Error {
    match store.pending.take() {
        // A panic (or fiber cancellation) caught at a host boundary
        // continues unwinding now that the wasm frames are gone.
        Some(Pending::Panic(p)) => std::panic::resume_unwind(p),
        Some(Pending::Error(e)) if record.trap == Trap::HostError => return e,
        Some(Pending::Error(_)) | None => {}
    }
    // The handler walked every wasm frame of the store, through outer
    // activations and stacks, before the frames were abandoned.
    let pcs = super::traphandlers::take_trap_frames(&record);
    let backtrace = super::backtrace::symbolize(&pcs);
    // The trap is the headline; the backtrace explains where.
    anyhow::Error::new(backtrace).context(record.trap)
}

/// `Func::call`.
pub(crate) fn call_func(
    store: &mut StoreOpaque,
    f: Func,
    params: &[Val],
    results: &mut [Val],
) -> Result<()> {
    let ty = store.func_ty(f);
    if params.len() != ty.params().len() {
        bail!(
            "wrong number of arguments: function {ty} expects {}, got {}",
            ty.params().len(),
            params.len()
        );
    }
    if results.len() != ty.results().len() {
        bail!(
            "wrong number of results: function {ty} returns {}, space for {} was given",
            ty.results().len(),
            results.len()
        );
    }
    let n = ty.params().len().max(ty.results().len()).max(1);
    // Most signatures fit in a small stack array: no allocation per call.
    let mut inline = [ValRaw::default(); 8];
    let mut heap = Vec::new();
    let values: &mut [ValRaw] = if n <= inline.len() {
        &mut inline[..n]
    } else {
        heap.resize(n, ValRaw::default());
        &mut heap
    };
    for (i, (v, t)) in params.iter().zip(ty.params()).enumerate() {
        values[i].bits = store
            .val_to_raw(v, t)
            .map_err(|e| anyhow!("argument {i}: {e}"))?;
    }
    call_raw(store, f, values)?;
    for (i, t) in ty.results().iter().enumerate() {
        results[i] = store.raw_to_val(values[i].bits & mask(t), t);
    }
    Ok(())
}

/// How to enter a function directly, resolved once (what a
/// `TypedFunc` keeps so that its calls skip the lookups of [`call_raw`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Entry {
    /// A wasm function: its array-to-wasm trampoline, vmctx and code.
    Wasm {
        trampoline: usize,
        vmctx: usize,
        code: usize,
    },
    /// A host function: called through [`call_raw`].
    Host,
}

/// The entry of `f`, a function of `store`.
pub(crate) fn entry_of(store: &StoreOpaque, f: Func) -> Result<Entry> {
    let data = store.func_data(f);
    Ok(match &data.kind {
        FuncKind::Host(_) => Entry::Host,
        FuncKind::Wasm { instance, .. } => {
            // SAFETY: the funcref of a live function of this store.
            let fr = unsafe { *data.funcref };
            let module = &store.instances[*instance as usize].module;
            let trampoline = module
                .inner
                .trampoline(data.type_id)
                .ok_or_else(|| anyhow!("no entry trampoline for function type"))?;
            Entry::Wasm {
                trampoline,
                vmctx: fr.vmctx as usize,
                code: fr.wasm_call as usize,
            }
        }
    })
}

/// Calls `f` through `entry` (from [`entry_of`] for `f` in this store),
/// as [`call_raw`] does.
pub(crate) fn call_entry(
    store: &mut StoreOpaque,
    f: Func,
    entry: Entry,
    values: &mut [ValRaw],
) -> Result<()> {
    store.check(f.store, "function");
    call_resolved(store, f, entry, values)
}

/// Calls `f` with arguments already in `values` (which must have room for
/// max(params, results) slots); results are written back to `values`.
pub(crate) fn call_raw(store: &mut StoreOpaque, f: Func, values: &mut [ValRaw]) -> Result<()> {
    let entry = entry_of(store, f)?;
    call_resolved(store, f, entry, values)
}

/// Calls `f`, a function of `store`, through its `entry`.
fn call_resolved(
    store: &mut StoreOpaque,
    f: Func,
    entry: Entry,
    values: &mut [ValRaw],
) -> Result<()> {
    match entry {
        Entry::Host => {
            let FuncKind::Host(h) = &store.func_data(f).kind else {
                unreachable!("a host entry for a wasm function")
            };
            let call: *const HostCallFn = &*h.call;
            // SAFETY: the host function lives as long as the store.
            unsafe { (*call)(store as *mut StoreOpaque, std::ptr::null_mut(), values) }
        }
        Entry::Wasm {
            trampoline,
            vmctx,
            code,
        } => {
            // The entry calls the array-to-wasm trampoline itself, with
            // its four arguments (`weft_cranelift::trampolines`): callee
            // and caller vmctx, code, values.
            let call = EntryCall {
                code: trampoline,
                args: [
                    vmctx as *mut u8,
                    vmctx as *mut u8,
                    code as *mut u8,
                    values.as_mut_ptr().cast(),
                ],
            };
            // SAFETY: the function is this store's, whose instances, and
            // so this vmctx and code, live as long as it; the trampoline
            // was compiled for the callee's signature and the value array
            // holds max(params, results) slots (the caller's contract).
            unsafe { enter_wasm(store, &call) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Engine, Store};

    fn native_call_of<T>(store: &Store<T>, f: Func) -> usize {
        use crate::AsContext;
        match &store.as_context().0.opaque.func_data(f).kind {
            FuncKind::Host(h) => h.ctx.func_ref.native_call as usize,
            FuncKind::Wasm { .. } => panic!("not a host function"),
        }
    }

    #[test]
    fn wrapped_number_functions_get_a_native_entry_and_others_do_not() {
        let engine = Engine::default();
        let mut store = Store::new(&engine, ());
        let native = cfg!(target_arch = "x86_64");
        let add = Func::wrap(&mut store, |a: i32, b: i32| a + b);
        assert_eq!(native_call_of(&store, add) != 0, native);
        let unit = Func::wrap(&mut store, |_: f64| {});
        assert_eq!(native_call_of(&store, unit) != 0, native);
        let two = Func::wrap(&mut store, |a: i32| (a, a));
        assert_eq!(native_call_of(&store, two), 0);
        let vector = Func::wrap(&mut store, |v: crate::V128| v);
        assert_eq!(native_call_of(&store, vector), 0);
        let funcref = Func::wrap(&mut store, |f: Option<Func>| f.is_some() as i32);
        assert_eq!(native_call_of(&store, funcref), 0);
        let dynamic = Func::new(
            &mut store,
            FuncType::new([ValType::I32], [ValType::I32]),
            |_, p, r| {
                r[0] = p[0].clone();
                Ok(())
            },
        );
        assert_eq!(native_call_of(&store, dynamic), 0);
    }
}
