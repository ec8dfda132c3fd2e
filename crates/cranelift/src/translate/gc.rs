//! GC instructions: structs, arrays, `i31`, casts.
//!
//! Objects live on the store's managed heap (`weft_environ::gc` has the
//! layouts, `weft_environ::gc_object` the header and reference encoding).
//! Allocation is a bump of the store context's `gc_next` against
//! `gc_limit`, with the `GcAlloc` builtin as slow path:
//!
//! ```text
//!   next = store_ctx.gc_next              ; load
//!   end  = next + size
//!   if end > store_ctx.gc_limit -> slow   ; GcAlloc(size, header): may collect
//!   store_ctx.gc_next = end
//!   [next] = header                       ; type id | kind << 30, length << 32
//!   -> next                               ; the fields are then stored
//! ```
//!
//! A collection moves objects, so no object address is kept across a
//! call except as a value declared to need a stack map (the translator
//! declares every reference-typed operand, see `translate.rs`); Cranelift
//! spills those around each call and reloads them after. Reference loads
//! and stores need no barriers (the collector is not generational).

use super::Translator;
use crate::env::{PTR, Region};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, InstBuilder, MemFlagsData as MemFlags, Value, types::*};
use weft_environ::wasmparser::{
    AbstractHeapType, CompositeInnerType, HeapType, RefType, StorageType,
};
use weft_environ::{Builtin, Trap, gc_object, store_ctx};

/// Object fields cannot trap (null is checked first) but are only
/// 8-aligned: `v128` fields must not be claimed aligned (a load folded
/// into an SSE instruction would then fault).
fn obj_flags() -> MemFlags {
    Region::GcObjects.flags(MemFlags::new().with_notrap())
}

/// How a field or element is loaded and stored.
#[derive(Clone, Copy)]
struct Access {
    /// Memory type of the stored value.
    mem: ir::Type,
    /// The operand's CLIF type.
    val: ir::Type,
    size: u32,
}

fn access(s: StorageType) -> Access {
    match s {
        StorageType::I8 => Access {
            mem: I8,
            val: I32,
            size: 1,
        },
        StorageType::I16 => Access {
            mem: I16,
            val: I32,
            size: 2,
        },
        StorageType::Val(v) => {
            let t = crate::env::clif_type(v);
            Access {
                mem: t,
                val: t,
                size: t.bytes(),
            }
        }
    }
}

impl<'a, 'm> Translator<'a, 'm> {
    fn gc_store_ctx(&mut self) -> Value {
        self.env
            .vmctx_load(&mut self.b, weft_environ::vmctx::STORE_CTX)
    }

    /// The header word of a new object of module type `ty` (struct or
    /// array), with `len` (i64, arrays) in the high half.
    fn gc_header(&mut self, ty: u32, len: Option<Value>) -> Value {
        let id = self.env.type_id(&mut self.b, ty);
        let id = self.b.ins().uextend(I64, id);
        match len {
            None => id,
            Some(len) => {
                let kind = i64::from(gc_object::KIND_ARRAY << gc_object::KIND_SHIFT);
                let w0 = self.b.ins().bor_imm_s(id, kind);
                let hi = self.b.ins().ishl_imm_s(len, 32);
                self.b.ins().bor(w0, hi)
            }
        }
    }

    /// Allocates `size` (i64) bytes with `header`; returns the address.
    fn gc_alloc(&mut self, size: Value, header: Value) -> Value {
        let sc = self.gc_store_ctx();
        let flags = Region::GcAlloc.flags(MemFlags::trusted());
        let next = self.b.ins().load(PTR, flags, sc, store_ctx::GC_NEXT as i32);
        let limit = self
            .b
            .ins()
            .load(PTR, flags, sc, store_ctx::GC_LIMIT as i32);
        let end = self.b.ins().iadd(next, size);
        let fits = self
            .b
            .ins()
            .icmp(IntCC::UnsignedLessThanOrEqual, end, limit);
        let fast = self.b.create_block();
        let slow = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(done, PTR);
        self.b.set_cold_block(slow);
        self.b.ins().brif(fits, fast, &[], slow, &[]);

        self.b.switch_to_block(fast);
        self.b.seal_block(fast);
        self.b
            .ins()
            .store(flags, end, sc, store_ctx::GC_NEXT as i32);
        self.b.ins().store(obj_flags(), header, next, 0);
        self.b.ins().jump(done, &[next.into()]);

        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        let call = self
            .env
            .call_builtin(&mut self.b, Builtin::GcAlloc, &[size, header]);
        let p = self.b.inst_results(call)[0];
        self.env.trapz(&mut self.b, p, Trap::HostError);
        self.b.ins().jump(done, &[p.into()]);

        self.b.switch_to_block(done);
        self.b.seal_block(done);
        self.b.block_params(done)[0]
    }

    fn store_field(&mut self, a: Access, v: Value, base: Value, off: i32) {
        let v = if a.mem.is_vector() {
            self.bitcast_vec(v, a.mem)
        } else if a.mem.bits() < a.val.bits() {
            self.b.ins().ireduce(a.mem, v)
        } else {
            v
        };
        self.b.ins().store(obj_flags(), v, base, off);
    }

    fn load_field(&mut self, a: Access, signed: bool, base: Value, off: i32) -> Value {
        match a.mem {
            I8 if signed => self.b.ins().sload8(I32, obj_flags(), base, off),
            I8 => self.b.ins().uload8(I32, obj_flags(), base, off),
            I16 if signed => self.b.ins().sload16(I32, obj_flags(), base, off),
            I16 => self.b.ins().uload16(I32, obj_flags(), base, off),
            t => {
                let v = self.b.ins().load(t, obj_flags(), base, off);
                self.canon(v)
            }
        }
    }

    fn zero_of(&mut self, a: Access) -> Value {
        self.zero(a.val)
    }

    fn null_check(&mut self, r: Value) {
        self.env.trapz(&mut self.b, r, Trap::NullReference);
    }

    // ---- structs ------------------------------------------------------------

    /// `struct.new(_default)` and, with `desc` set, `struct.new(_default)_desc`
    /// (the descriptor is the last operand; null traps).
    pub(super) fn translate_struct_new(&mut self, ty: u32, default: bool, desc: bool) {
        let fields = self.env.info.struct_fields(ty);
        let layout = self.env.info.struct_layout(ty);
        let d = desc.then(|| {
            let d = self.pop();
            self.null_check(d);
            d
        });
        let vals = if default {
            let mut v = Vec::new();
            for f in &fields {
                let z = self.zero_of(access(*f));
                v.push(z);
            }
            v
        } else {
            self.popn(fields.len())
        };
        let size = self.b.ins().iconst(I64, i64::from(layout.size));
        let header = self.gc_header(ty, None);
        let p = self.gc_alloc(size, header);
        if let (Some(off), Some(d)) = (layout.descriptor, d) {
            self.b.ins().store(obj_flags(), d, p, off as i32);
        }
        for ((f, (off, _)), v) in fields.iter().zip(&layout.fields).zip(vals) {
            self.store_field(access(*f), v, p, *off as i32);
        }
        self.push(p);
    }

    /// `ref.get_desc $t`: the hidden descriptor field.
    pub(super) fn translate_ref_get_desc(&mut self, ty: u32) {
        let r = self.pop();
        self.null_check(r);
        let off = self
            .env
            .info
            .struct_layout(ty)
            .descriptor
            .expect("validated: ref.get_desc names a type with a descriptor");
        let d = self.b.ins().load(PTR, obj_flags(), r, off as i32);
        self.push(d);
    }

    pub(super) fn translate_struct_get(&mut self, ty: u32, field: u32, signed: bool) {
        let r = self.pop();
        self.null_check(r);
        let f = self.env.info.struct_fields(ty)[field as usize];
        let off = self.env.info.struct_layout(ty).fields[field as usize].0;
        let v = self.load_field(access(f), signed, r, off as i32);
        self.push(v);
    }

    pub(super) fn translate_struct_set(&mut self, ty: u32, field: u32) {
        let (r, v) = self.pop2();
        self.null_check(r);
        let f = self.env.info.struct_fields(ty)[field as usize];
        let off = self.env.info.struct_layout(ty).fields[field as usize].0;
        self.store_field(access(f), v, r, off as i32);
    }

    // ---- arrays -------------------------------------------------------------

    fn array_access(&self, ty: u32) -> Access {
        access(self.env.info.array_elem(ty).1)
    }

    /// Allocates an array of module type `ty` with `len` (i32) elements,
    /// uninitialised.
    fn array_alloc(&mut self, ty: u32, len: Value) -> Value {
        let a = self.array_access(ty);
        let len64 = self.b.ins().uextend(I64, len);
        let bytes = self.b.ins().imul_imm_s(len64, i64::from(a.size));
        let round = i64::from(gc_object::FIELDS + gc_object::ALIGN - 1);
        let bytes = self.b.ins().iadd_imm_s(bytes, round);
        let size = self
            .b
            .ins()
            .band_imm_s(bytes, !(i64::from(gc_object::ALIGN) - 1));
        let header = self.gc_header(ty, Some(len64));
        self.gc_alloc(size, header)
    }

    /// Stores `v` into elements `[start, start + n)` of `arr` (i32 counts,
    /// bounds already checked).
    fn array_fill_loop(&mut self, a: Access, arr: Value, start: Value, n: Value, v: Value) {
        let size = i64::from(a.size);
        let s64 = self.b.ins().uextend(I64, start);
        let n64 = self.b.ins().uextend(I64, n);
        let base = self.b.ins().iadd_imm_s(arr, i64::from(gc_object::FIELDS));
        let off = self.b.ins().imul_imm_s(s64, size);
        let first = self.b.ins().iadd(base, off);
        let bytes = self.b.ins().imul_imm_s(n64, size);
        let end = self.b.ins().iadd(first, bytes);
        let header = self.b.create_block();
        self.b.append_block_param(header, PTR);
        let body = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(header, &[first.into()]);
        self.b.switch_to_block(header);
        let at = self.b.block_params(header)[0];
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, at, end);
        self.b.ins().brif(more, body, &[], exit, &[]);
        self.b.switch_to_block(body);
        self.b.seal_block(body);
        self.store_field(a, v, at, 0);
        let next = self.b.ins().iadd_imm_s(at, size);
        self.b.ins().jump(header, &[next.into()]);
        self.b.seal_block(header);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
    }

    pub(super) fn translate_array_new(&mut self, ty: u32, default: bool) {
        let a = self.array_access(ty);
        let len = self.pop();
        let v = if default { self.zero_of(a) } else { self.pop() };
        let p = self.array_alloc(ty, len);
        let zero = self.b.ins().iconst(I32, 0);
        self.array_fill_loop(a, p, zero, len, v);
        self.push(p);
    }

    pub(super) fn translate_array_new_fixed(&mut self, ty: u32, n: u32) {
        let a = self.array_access(ty);
        let vals = self.popn(n as usize);
        let len = self.b.ins().iconst(I32, i64::from(n));
        let p = self.array_alloc(ty, len);
        for (i, v) in vals.into_iter().enumerate() {
            let off = gc_object::FIELDS + i as u32 * a.size;
            self.store_field(a, v, p, off as i32);
        }
        self.push(p);
    }

    /// `array.new_data` / `array.new_elem`: check the segment, allocate,
    /// copy.
    pub(super) fn translate_array_new_segment(&mut self, ty: u32, seg: u32, data: bool) {
        let (off, len) = self.pop2();
        let which = if data {
            Builtin::ArrayInitData
        } else {
            Builtin::ArrayInitElem
        };
        let tyv = self.b.ins().iconst(I32, i64::from(ty));
        let segv = self.b.ins().iconst(I32, i64::from(seg));
        let null = self.b.ins().iconst(PTR, 0);
        let zero = self.b.ins().iconst(I32, 0);
        let call = self
            .env
            .call_builtin(&mut self.b, which, &[tyv, segv, null, zero, off, len]);
        let ok = self.b.inst_results(call)[0];
        self.env.trapz(&mut self.b, ok, Trap::HostError);
        let p = self.array_alloc(ty, len);
        self.b.declare_value_needs_stack_map(p);
        let call = self
            .env
            .call_builtin(&mut self.b, which, &[tyv, segv, p, zero, off, len]);
        let ok = self.b.inst_results(call)[0];
        self.env.trapz(&mut self.b, ok, Trap::HostError);
        self.push(p);
    }

    /// The address of element `idx` (i32) of `arr`, trapping on null and
    /// out-of-bounds indices.
    fn array_elem_addr(&mut self, a: Access, arr: Value, idx: Value) -> Value {
        self.null_check(arr);
        let len = self
            .b
            .ins()
            .load(I32, obj_flags(), arr, gc_object::ARRAY_LEN as i32);
        let oob = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, idx, len);
        self.env.trapnz(&mut self.b, oob, Trap::ArrayOutOfBounds);
        let i64v = self.b.ins().uextend(I64, idx);
        let off = self.b.ins().imul_imm_s(i64v, i64::from(a.size));
        let base = self.b.ins().iadd(arr, off);
        self.b.ins().iadd_imm_s(base, i64::from(gc_object::FIELDS))
    }

    pub(super) fn translate_array_get(&mut self, ty: u32, signed: bool) {
        let a = self.array_access(ty);
        let (arr, idx) = self.pop2();
        let at = self.array_elem_addr(a, arr, idx);
        let v = self.load_field(a, signed, at, 0);
        self.push(v);
    }

    pub(super) fn translate_array_set(&mut self, ty: u32) {
        let a = self.array_access(ty);
        let (arr, idx, v) = self.pop3();
        let at = self.array_elem_addr(a, arr, idx);
        self.store_field(a, v, at, 0);
    }

    pub(super) fn translate_array_len(&mut self) {
        let arr = self.pop();
        self.null_check(arr);
        let len = self
            .b
            .ins()
            .load(I32, obj_flags(), arr, gc_object::ARRAY_LEN as i32);
        self.push(len);
    }

    /// Traps unless `[start, start + n)` lies inside `arr` (non-null).
    fn array_range_check(&mut self, arr: Value, start: Value, n: Value) {
        let len = self
            .b
            .ins()
            .load(I32, obj_flags(), arr, gc_object::ARRAY_LEN as i32);
        let s = self.b.ins().uextend(I64, start);
        let n = self.b.ins().uextend(I64, n);
        let len = self.b.ins().uextend(I64, len);
        let end = self.b.ins().iadd(s, n);
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, len);
        self.env.trapnz(&mut self.b, oob, Trap::ArrayOutOfBounds);
    }

    pub(super) fn translate_array_fill(&mut self, ty: u32) {
        let a = self.array_access(ty);
        let n = self.pop();
        let (arr, start, v) = self.pop3();
        self.null_check(arr);
        self.array_range_check(arr, start, n);
        self.array_fill_loop(a, arr, start, n, v);
    }

    pub(super) fn translate_array_copy(&mut self, dst_ty: u32) {
        let a = self.array_access(dst_ty);
        let (si, n) = self.pop2();
        let (dst, di, src) = self.pop3();
        self.null_check(dst);
        self.null_check(src);
        let size = self.b.ins().iconst(I32, i64::from(a.size));
        let call = self.env.call_builtin(
            &mut self.b,
            Builtin::ArrayCopy,
            &[dst, di, src, si, n, size],
        );
        let ok = self.b.inst_results(call)[0];
        self.env.trapz(&mut self.b, ok, Trap::HostError);
    }

    pub(super) fn translate_array_init(&mut self, ty: u32, seg: u32, data: bool) {
        let (s, n) = self.pop2();
        let (arr, d) = self.pop2();
        self.null_check(arr);
        let which = if data {
            Builtin::ArrayInitData
        } else {
            Builtin::ArrayInitElem
        };
        let tyv = self.b.ins().iconst(I32, i64::from(ty));
        let segv = self.b.ins().iconst(I32, i64::from(seg));
        let call = self
            .env
            .call_builtin(&mut self.b, which, &[tyv, segv, arr, d, s, n]);
        let ok = self.b.inst_results(call)[0];
        self.env.trapz(&mut self.b, ok, Trap::HostError);
    }

    // ---- i31 ----------------------------------------------------------------

    pub(super) fn translate_ref_i31(&mut self) {
        let x = self.pop();
        let s = self.b.ins().ishl_imm_s(x, 1);
        let t = self.b.ins().bor_imm_s(s, gc_object::I31_TAG as i64);
        let r = self.b.ins().uextend(PTR, t);
        self.push(r);
    }

    pub(super) fn translate_i31_get(&mut self, signed: bool) {
        let r = self.pop();
        self.null_check(r);
        let v = self.b.ins().ireduce(I32, r);
        let v = if signed {
            self.b.ins().sshr_imm_s(v, 1)
        } else {
            self.b.ins().ushr_imm_s(v, 1)
        };
        self.push(v);
    }

    // ---- casts --------------------------------------------------------------

    /// The header word of `v` (a non-null reference), continuing in a new
    /// block; a tagged value (`i31`, host reference), which has no header,
    /// jumps to `done` with `no` instead.
    fn object_header_or(&mut self, v: Value, done: ir::Block, no: Value) -> Value {
        let obj = self.b.create_block();
        let tag = self.b.ins().band_imm_s(v, gc_object::TAG_MASK as i64);
        self.b.ins().brif(tag, done, &[no.into()], obj, &[]);
        self.b.switch_to_block(obj);
        self.b.seal_block(obj);
        self.b.ins().load(I32, obj_flags(), v, 0)
    }

    /// An i8 that is 1 when `v` (a reference) is of type `target`.
    pub(super) fn ref_test_value(&mut self, v: Value, target: RefType) -> Value {
        let nullable = target.is_nullable();
        let done = self.b.create_block();
        self.b.append_block_param(done, I8);
        let nonnull = self.b.create_block();
        let null_result = self.b.ins().iconst(I8, i64::from(nullable));
        self.b
            .ins()
            .brif(v, nonnull, &[], done, &[null_result.into()]);
        self.b.switch_to_block(nonnull);
        self.b.seal_block(nonnull);
        let yes = self.b.ins().iconst(I8, 1);
        let no = self.b.ins().iconst(I8, 0);
        match target.heap_type() {
            HeapType::Abstract { ty, .. } => match ty {
                AbstractHeapType::Any
                | AbstractHeapType::Func
                | AbstractHeapType::Extern
                | AbstractHeapType::Exn
                | AbstractHeapType::Cont => {
                    self.b.ins().jump(done, &[yes.into()]);
                }
                AbstractHeapType::None
                | AbstractHeapType::NoFunc
                | AbstractHeapType::NoExtern
                | AbstractHeapType::NoExn
                | AbstractHeapType::NoCont => {
                    self.b.ins().jump(done, &[no.into()]);
                }
                AbstractHeapType::Eq => {
                    let tag = self.b.ins().band_imm_s(v, gc_object::TAG_MASK as i64);
                    let c =
                        self.b
                            .ins()
                            .icmp_imm_s(IntCC::NotEqual, tag, gc_object::HOST_TAG as i64);
                    self.b.ins().jump(done, &[c.into()]);
                }
                AbstractHeapType::I31 => {
                    let c = self.b.ins().band_imm_s(v, gc_object::I31_TAG as i64);
                    let c = self.b.ins().icmp_imm_s(IntCC::NotEqual, c, 0);
                    self.b.ins().jump(done, &[c.into()]);
                }
                AbstractHeapType::Struct | AbstractHeapType::Array => {
                    let kind = if ty == AbstractHeapType::Struct {
                        gc_object::KIND_STRUCT
                    } else {
                        gc_object::KIND_ARRAY
                    };
                    let h = self.object_header_or(v, done, no);
                    let k = self.b.ins().ushr_imm_s(h, i64::from(gc_object::KIND_SHIFT));
                    let c = self.b.ins().icmp_imm_s(IntCC::Equal, k, i64::from(kind));
                    self.b.ins().jump(done, &[c.into()]);
                }
            },
            HeapType::Concrete(idx) | HeapType::Exact(idx) => {
                let t = idx
                    .as_module_index()
                    .expect("validated: a module's types name module types");
                let sub = &self.env.info.types[t as usize].sub;
                let is_final = sub.is_final;
                let (is_func, kind) = match &sub.composite_type.inner {
                    CompositeInnerType::Func(_) => (true, 0),
                    CompositeInnerType::Struct(_) => (false, gc_object::KIND_STRUCT),
                    CompositeInnerType::Array(_) => (false, gc_object::KIND_ARRAY),
                    CompositeInnerType::Cont(_) => {
                        // Continuation references carry no type at run
                        // time; validation already proved the static type.
                        self.b.ins().jump(done, &[yes.into()]);
                        self.b.switch_to_block(done);
                        self.b.seal_block(done);
                        return self.b.block_params(done)[0];
                    }
                };
                // An exact target (custom descriptors) admits no subtype.
                let is_final = is_final || matches!(target.heap_type(), HeapType::Exact(_));
                let expected = self.env.type_id(&mut self.b, t);
                let actual = if is_func {
                    self.b.ins().load(
                        I32,
                        MemFlags::trusted().with_readonly(),
                        v,
                        weft_environ::func_ref::TYPE_ID as i32,
                    )
                } else {
                    let h = self.object_header_or(v, done, no);
                    // The kind must match too (a struct type id never
                    // equals an array's, but check cheaply anyway).
                    let k = self.b.ins().ushr_imm_s(h, i64::from(gc_object::KIND_SHIFT));
                    let same_kind = self.b.ins().icmp_imm_s(IntCC::Equal, k, i64::from(kind));
                    let id_block = self.b.create_block();
                    self.b
                        .ins()
                        .brif(same_kind, id_block, &[], done, &[no.into()]);
                    self.b.switch_to_block(id_block);
                    self.b.seal_block(id_block);
                    self.b.ins().band_imm_s(h, i64::from(gc_object::ID_MASK))
                };
                let eq = self.b.ins().icmp(IntCC::Equal, actual, expected);
                if is_final {
                    self.b.ins().jump(done, &[eq.into()]);
                } else {
                    let slow = self.b.create_block();
                    self.b.ins().brif(eq, done, &[yes.into()], slow, &[]);
                    self.b.switch_to_block(slow);
                    self.b.seal_block(slow);
                    let call =
                        self.env
                            .call_builtin(&mut self.b, Builtin::IsSubtype, &[actual, expected]);
                    let r = self.b.inst_results(call)[0];
                    let c = self.b.ins().icmp_imm_s(IntCC::NotEqual, r, 0);
                    self.b.ins().jump(done, &[c.into()]);
                }
            }
        }
        self.b.switch_to_block(done);
        self.b.seal_block(done);
        self.b.block_params(done)[0]
    }

    pub(super) fn translate_ref_test(&mut self, target: RefType) {
        let v = self.pop();
        let c = self.ref_test_value(v, target);
        let c = self.b.ins().uextend(I32, c);
        self.push(c);
    }

    pub(super) fn translate_ref_cast(&mut self, target: RefType) {
        let v = self.pop();
        let c = self.ref_test_value(v, target);
        self.env.trapz(&mut self.b, c, Trap::CastFailure);
        self.push(v);
    }

    /// An i8 that is 1 when `v` is null and `target` nullable, or when `v`
    /// is a struct of `target`'s (described) type whose descriptor is
    /// `desc`; traps when `desc` is null. For `ref.cast_desc_eq` and
    /// `br_on_cast_desc_eq(_fail)`.
    fn desc_eq_value(&mut self, v: Value, desc: Value, target: RefType) -> Value {
        self.null_check(desc);
        let idx = match target.heap_type() {
            HeapType::Concrete(idx) | HeapType::Exact(idx) => idx,
            HeapType::Abstract { .. } => unreachable!("validated: described types are concrete"),
        };
        let t = idx
            .as_module_index()
            .expect("validated: a module's types name module types");
        let off = self
            .env
            .info
            .struct_layout(t)
            .descriptor
            .expect("validated: the cast target has a descriptor");
        // The type test proves the object has the descriptor slot (every
        // subtype of a described type has one, at the same offset); the
        // descriptor's identity then fixes the exact type.
        let inexact = RefType::new(target.is_nullable(), HeapType::Concrete(idx))
            .expect("a validated type index fits a reference type");
        let typed = self.ref_test_value(v, inexact);
        let done = self.b.create_block();
        self.b.append_block_param(done, I8);
        let is_null = self.b.create_block();
        let compare = self.b.create_block();
        let no = self.b.ins().iconst(I8, 0);
        self.b.ins().brif(typed, is_null, &[], done, &[no.into()]);
        self.b.switch_to_block(is_null);
        self.b.seal_block(is_null);
        // Here `v` is null only when `target` is nullable.
        let yes = self.b.ins().iconst(I8, 1);
        self.b.ins().brif(v, compare, &[], done, &[yes.into()]);
        self.b.switch_to_block(compare);
        self.b.seal_block(compare);
        let have = self.b.ins().load(PTR, obj_flags(), v, off as i32);
        let eq = self.b.ins().icmp(IntCC::Equal, have, desc);
        self.b.ins().jump(done, &[eq.into()]);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
        self.b.block_params(done)[0]
    }

    pub(super) fn translate_ref_cast_desc_eq(&mut self, target: RefType) {
        let (v, desc) = self.pop2();
        let c = self.desc_eq_value(v, desc, target);
        self.env.trapz(&mut self.b, c, Trap::DescriptorCastFailure);
        self.push(v);
    }

    /// `br_on_cast_desc_eq` (`on_fail` false) and `br_on_cast_desc_eq_fail`
    /// (true).
    pub(super) fn translate_br_on_cast_desc_eq(
        &mut self,
        depth: u32,
        target: RefType,
        on_fail: bool,
    ) {
        let desc = self.pop();
        let v = self.peekn(1)[0];
        let c = self.desc_eq_value(v, desc, target);
        self.branch_on(c, depth, on_fail);
    }

    /// `br_on_cast` (`on_fail` false) and `br_on_cast_fail` (true).
    pub(super) fn translate_br_on_cast(&mut self, depth: u32, target: RefType, on_fail: bool) {
        let v = self.peekn(1)[0];
        let c = self.ref_test_value(v, target);
        self.branch_on(c, depth, on_fail);
    }

    /// Branches to `depth` when `c` (i8) is set, or clear with `on_fail`,
    /// passing the top operands; falls through otherwise.
    fn branch_on(&mut self, c: Value, depth: u32, on_fail: bool) {
        let (dest, n) = self.branch_target(depth);
        let args = self.branch_args(n);
        let next = self.b.create_block();
        let args: Vec<ir::BlockArg> = args.iter().map(|a| (*a).into()).collect();
        if on_fail {
            self.b.ins().brif(c, next, &[], dest, &args);
        } else {
            self.b.ins().brif(c, dest, &args, next, &[]);
        }
        self.b.seal_block(next);
        self.b.switch_to_block(next);
    }
}
