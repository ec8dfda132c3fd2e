//! Translation of fixed-width SIMD and relaxed SIMD operators.
//!
//! Vector values on the operand stack may have any 128-bit CLIF vector
//! type; every operator bitcasts its operands to the lane type it works on
//! (`Translator::bitcast_vec`, a no-op when the type already matches) and
//! pushes its result in whatever type the CLIF instruction produced. The
//! scalar translator canonicalises vectors to `i8x16` where they cross
//! blocks, calls, locals and globals.
//!
//! Relaxed operators pick, per target, one of the behaviours the relaxed
//! SIMD specification allows. The choice only depends on the ISA the
//! compiler was configured for, so a compiled function always computes the
//! same result for the same inputs.

use crate::translate::{Translator, heap_flags};
use anyhow::Result;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, InstBuilder, Type, Value, types::*};
use cranelift_frontend::FunctionBuilder;
use weft_environ::wasmparser::{MemArg, Operator};

/// Translates `op` if it is a SIMD operator; returns whether it was.
pub fn translate_simd(t: &mut Translator<'_, '_>, op: &Operator<'_>) -> Result<bool> {
    use Operator::*;
    match *op {
        // -------- memory --------
        V128Load { memarg } => {
            let (addr, off) = t.mem_addr(&memarg, 16);
            let v = t.b.ins().load(I8X16, heap_flags(), addr, off);
            t.push(v);
        }
        V128Load8x8S { memarg } => {
            let (addr, off) = t.mem_addr(&memarg, 8);
            let v = t.b.ins().sload8x8(heap_flags(), addr, off);
            t.push(v);
        }
        V128Load8x8U { memarg } => {
            let (addr, off) = t.mem_addr(&memarg, 8);
            let v = t.b.ins().uload8x8(heap_flags(), addr, off);
            t.push(v);
        }
        V128Load16x4S { memarg } => {
            let (addr, off) = t.mem_addr(&memarg, 8);
            let v = t.b.ins().sload16x4(heap_flags(), addr, off);
            t.push(v);
        }
        V128Load16x4U { memarg } => {
            let (addr, off) = t.mem_addr(&memarg, 8);
            let v = t.b.ins().uload16x4(heap_flags(), addr, off);
            t.push(v);
        }
        V128Load32x2S { memarg } => {
            let (addr, off) = t.mem_addr(&memarg, 8);
            let v = t.b.ins().sload32x2(heap_flags(), addr, off);
            t.push(v);
        }
        V128Load32x2U { memarg } => {
            let (addr, off) = t.mem_addr(&memarg, 8);
            let v = t.b.ins().uload32x2(heap_flags(), addr, off);
            t.push(v);
        }
        V128Load8Splat { memarg } => load_splat(t, &memarg, I8X16),
        V128Load16Splat { memarg } => load_splat(t, &memarg, I16X8),
        V128Load32Splat { memarg } => load_splat(t, &memarg, I32X4),
        V128Load64Splat { memarg } => load_splat(t, &memarg, I64X2),
        V128Load32Zero { memarg } => load_zero(t, &memarg, I32X4),
        V128Load64Zero { memarg } => load_zero(t, &memarg, I64X2),
        V128Store { memarg } => {
            let v = t.pop();
            let (addr, off) = t.mem_addr(&memarg, 16);
            t.b.ins().store(heap_flags(), v, addr, off);
        }
        V128Load8Lane { memarg, lane } => load_lane(t, &memarg, lane, I8X16),
        V128Load16Lane { memarg, lane } => load_lane(t, &memarg, lane, I16X8),
        V128Load32Lane { memarg, lane } => load_lane(t, &memarg, lane, I32X4),
        V128Load64Lane { memarg, lane } => load_lane(t, &memarg, lane, I64X2),
        V128Store8Lane { memarg, lane } => store_lane(t, &memarg, lane, I8X16),
        V128Store16Lane { memarg, lane } => store_lane(t, &memarg, lane, I16X8),
        V128Store32Lane { memarg, lane } => store_lane(t, &memarg, lane, I32X4),
        V128Store64Lane { memarg, lane } => store_lane(t, &memarg, lane, I64X2),

        // -------- constants, lanes, shuffles --------
        V128Const { value } => {
            let v = t.vconst(value.i128() as u128);
            t.push(v);
        }
        I8x16Shuffle { lanes } => {
            let (a, b) = pop2_as(t, I8X16);
            let mask = t.b.func.dfg.immediates.push(lanes.to_vec().into());
            let v = t.b.ins().shuffle(a, b, mask);
            t.push(v);
        }
        I8x16Swizzle => binop(t, I8X16, |b, x, y| b.ins().swizzle(x, y)),
        I8x16Splat => splat(t, I8X16),
        I16x8Splat => splat(t, I16X8),
        I32x4Splat => splat(t, I32X4),
        I64x2Splat => splat(t, I64X2),
        F32x4Splat => splat(t, F32X4),
        F64x2Splat => splat(t, F64X2),
        I8x16ExtractLaneS { lane } => extract_lane(t, I8X16, lane, Some(true)),
        I8x16ExtractLaneU { lane } => extract_lane(t, I8X16, lane, Some(false)),
        I16x8ExtractLaneS { lane } => extract_lane(t, I16X8, lane, Some(true)),
        I16x8ExtractLaneU { lane } => extract_lane(t, I16X8, lane, Some(false)),
        I32x4ExtractLane { lane } => extract_lane(t, I32X4, lane, None),
        I64x2ExtractLane { lane } => extract_lane(t, I64X2, lane, None),
        F32x4ExtractLane { lane } => extract_lane(t, F32X4, lane, None),
        F64x2ExtractLane { lane } => extract_lane(t, F64X2, lane, None),
        I8x16ReplaceLane { lane } => replace_lane(t, I8X16, lane),
        I16x8ReplaceLane { lane } => replace_lane(t, I16X8, lane),
        I32x4ReplaceLane { lane } => replace_lane(t, I32X4, lane),
        I64x2ReplaceLane { lane } => replace_lane(t, I64X2, lane),
        F32x4ReplaceLane { lane } => replace_lane(t, F32X4, lane),
        F64x2ReplaceLane { lane } => replace_lane(t, F64X2, lane),

        // -------- comparisons --------
        I8x16Eq => icmp(t, I8X16, IntCC::Equal),
        I8x16Ne => icmp(t, I8X16, IntCC::NotEqual),
        I8x16LtS => icmp(t, I8X16, IntCC::SignedLessThan),
        I8x16LtU => icmp(t, I8X16, IntCC::UnsignedLessThan),
        I8x16GtS => icmp(t, I8X16, IntCC::SignedGreaterThan),
        I8x16GtU => icmp(t, I8X16, IntCC::UnsignedGreaterThan),
        I8x16LeS => icmp(t, I8X16, IntCC::SignedLessThanOrEqual),
        I8x16LeU => icmp(t, I8X16, IntCC::UnsignedLessThanOrEqual),
        I8x16GeS => icmp(t, I8X16, IntCC::SignedGreaterThanOrEqual),
        I8x16GeU => icmp(t, I8X16, IntCC::UnsignedGreaterThanOrEqual),
        I16x8Eq => icmp(t, I16X8, IntCC::Equal),
        I16x8Ne => icmp(t, I16X8, IntCC::NotEqual),
        I16x8LtS => icmp(t, I16X8, IntCC::SignedLessThan),
        I16x8LtU => icmp(t, I16X8, IntCC::UnsignedLessThan),
        I16x8GtS => icmp(t, I16X8, IntCC::SignedGreaterThan),
        I16x8GtU => icmp(t, I16X8, IntCC::UnsignedGreaterThan),
        I16x8LeS => icmp(t, I16X8, IntCC::SignedLessThanOrEqual),
        I16x8LeU => icmp(t, I16X8, IntCC::UnsignedLessThanOrEqual),
        I16x8GeS => icmp(t, I16X8, IntCC::SignedGreaterThanOrEqual),
        I16x8GeU => icmp(t, I16X8, IntCC::UnsignedGreaterThanOrEqual),
        I32x4Eq => icmp(t, I32X4, IntCC::Equal),
        I32x4Ne => icmp(t, I32X4, IntCC::NotEqual),
        I32x4LtS => icmp(t, I32X4, IntCC::SignedLessThan),
        I32x4LtU => icmp(t, I32X4, IntCC::UnsignedLessThan),
        I32x4GtS => icmp(t, I32X4, IntCC::SignedGreaterThan),
        I32x4GtU => icmp(t, I32X4, IntCC::UnsignedGreaterThan),
        I32x4LeS => icmp(t, I32X4, IntCC::SignedLessThanOrEqual),
        I32x4LeU => icmp(t, I32X4, IntCC::UnsignedLessThanOrEqual),
        I32x4GeS => icmp(t, I32X4, IntCC::SignedGreaterThanOrEqual),
        I32x4GeU => icmp(t, I32X4, IntCC::UnsignedGreaterThanOrEqual),
        I64x2Eq => icmp(t, I64X2, IntCC::Equal),
        I64x2Ne => icmp(t, I64X2, IntCC::NotEqual),
        I64x2LtS => icmp(t, I64X2, IntCC::SignedLessThan),
        I64x2GtS => icmp(t, I64X2, IntCC::SignedGreaterThan),
        I64x2LeS => icmp(t, I64X2, IntCC::SignedLessThanOrEqual),
        I64x2GeS => icmp(t, I64X2, IntCC::SignedGreaterThanOrEqual),
        F32x4Eq => fcmp(t, F32X4, FloatCC::Equal),
        F32x4Ne => fcmp(t, F32X4, FloatCC::NotEqual),
        F32x4Lt => fcmp(t, F32X4, FloatCC::LessThan),
        F32x4Gt => fcmp(t, F32X4, FloatCC::GreaterThan),
        F32x4Le => fcmp(t, F32X4, FloatCC::LessThanOrEqual),
        F32x4Ge => fcmp(t, F32X4, FloatCC::GreaterThanOrEqual),
        F64x2Eq => fcmp(t, F64X2, FloatCC::Equal),
        F64x2Ne => fcmp(t, F64X2, FloatCC::NotEqual),
        F64x2Lt => fcmp(t, F64X2, FloatCC::LessThan),
        F64x2Gt => fcmp(t, F64X2, FloatCC::GreaterThan),
        F64x2Le => fcmp(t, F64X2, FloatCC::LessThanOrEqual),
        F64x2Ge => fcmp(t, F64X2, FloatCC::GreaterThanOrEqual),

        // -------- bitwise --------
        V128Not => unop(t, I8X16, |b, x| b.ins().bnot(x)),
        V128And => binop(t, I8X16, |b, x, y| b.ins().band(x, y)),
        V128AndNot => binop(t, I8X16, |b, x, y| b.ins().band_not(x, y)),
        V128Or => binop(t, I8X16, |b, x, y| b.ins().bor(x, y)),
        V128Xor => binop(t, I8X16, |b, x, y| b.ins().bxor(x, y)),
        V128Bitselect => {
            // v128.bitselect(v1, v2, c) = (v1 & c) | (v2 & !c)
            let (x, y, c) = pop3_as(t, I8X16);
            let v = t.b.ins().bitselect(c, x, y);
            t.push(v);
        }
        V128AnyTrue => {
            let v = pop_as(t, I8X16);
            let r = t.b.ins().vany_true(v);
            let r = t.b.ins().uextend(I32, r);
            t.push(r);
        }

        // -------- integer lane-wise arithmetic --------
        I8x16Abs => unop(t, I8X16, |b, x| b.ins().iabs(x)),
        I16x8Abs => unop(t, I16X8, |b, x| b.ins().iabs(x)),
        I32x4Abs => unop(t, I32X4, |b, x| b.ins().iabs(x)),
        I64x2Abs => unop(t, I64X2, |b, x| b.ins().iabs(x)),
        I8x16Neg => unop(t, I8X16, |b, x| b.ins().ineg(x)),
        I16x8Neg => unop(t, I16X8, |b, x| b.ins().ineg(x)),
        I32x4Neg => unop(t, I32X4, |b, x| b.ins().ineg(x)),
        I64x2Neg => unop(t, I64X2, |b, x| b.ins().ineg(x)),
        I8x16Popcnt => unop(t, I8X16, |b, x| b.ins().popcnt(x)),
        I8x16AllTrue => all_true(t, I8X16),
        I16x8AllTrue => all_true(t, I16X8),
        I32x4AllTrue => all_true(t, I32X4),
        I64x2AllTrue => all_true(t, I64X2),
        I8x16Bitmask => bitmask(t, I8X16),
        I16x8Bitmask => bitmask(t, I16X8),
        I32x4Bitmask => bitmask(t, I32X4),
        I64x2Bitmask => bitmask(t, I64X2),

        I8x16Shl => shift(t, I8X16, Shift::Left),
        I16x8Shl => shift(t, I16X8, Shift::Left),
        I32x4Shl => shift(t, I32X4, Shift::Left),
        I64x2Shl => shift(t, I64X2, Shift::Left),
        I8x16ShrS => shift(t, I8X16, Shift::RightS),
        I16x8ShrS => shift(t, I16X8, Shift::RightS),
        I32x4ShrS => shift(t, I32X4, Shift::RightS),
        I64x2ShrS => shift(t, I64X2, Shift::RightS),
        I8x16ShrU => shift(t, I8X16, Shift::RightU),
        I16x8ShrU => shift(t, I16X8, Shift::RightU),
        I32x4ShrU => shift(t, I32X4, Shift::RightU),
        I64x2ShrU => shift(t, I64X2, Shift::RightU),

        I8x16Add => binop(t, I8X16, |b, x, y| b.ins().iadd(x, y)),
        I16x8Add => binop(t, I16X8, |b, x, y| b.ins().iadd(x, y)),
        I32x4Add => binop(t, I32X4, |b, x, y| b.ins().iadd(x, y)),
        I64x2Add => binop(t, I64X2, |b, x, y| b.ins().iadd(x, y)),
        I8x16Sub => binop(t, I8X16, |b, x, y| b.ins().isub(x, y)),
        I16x8Sub => binop(t, I16X8, |b, x, y| b.ins().isub(x, y)),
        I32x4Sub => binop(t, I32X4, |b, x, y| b.ins().isub(x, y)),
        I64x2Sub => binop(t, I64X2, |b, x, y| b.ins().isub(x, y)),
        I16x8Mul => binop(t, I16X8, |b, x, y| b.ins().imul(x, y)),
        I32x4Mul => binop(t, I32X4, |b, x, y| b.ins().imul(x, y)),
        I64x2Mul => binop(t, I64X2, |b, x, y| b.ins().imul(x, y)),
        I8x16AddSatS => binop(t, I8X16, |b, x, y| b.ins().sadd_sat(x, y)),
        I16x8AddSatS => binop(t, I16X8, |b, x, y| b.ins().sadd_sat(x, y)),
        I8x16AddSatU => binop(t, I8X16, |b, x, y| b.ins().uadd_sat(x, y)),
        I16x8AddSatU => binop(t, I16X8, |b, x, y| b.ins().uadd_sat(x, y)),
        I8x16SubSatS => binop(t, I8X16, |b, x, y| b.ins().ssub_sat(x, y)),
        I16x8SubSatS => binop(t, I16X8, |b, x, y| b.ins().ssub_sat(x, y)),
        I8x16SubSatU => binop(t, I8X16, |b, x, y| b.ins().usub_sat(x, y)),
        I16x8SubSatU => binop(t, I16X8, |b, x, y| b.ins().usub_sat(x, y)),
        I8x16MinS => binop(t, I8X16, |b, x, y| b.ins().smin(x, y)),
        I16x8MinS => binop(t, I16X8, |b, x, y| b.ins().smin(x, y)),
        I32x4MinS => binop(t, I32X4, |b, x, y| b.ins().smin(x, y)),
        I8x16MinU => binop(t, I8X16, |b, x, y| b.ins().umin(x, y)),
        I16x8MinU => binop(t, I16X8, |b, x, y| b.ins().umin(x, y)),
        I32x4MinU => binop(t, I32X4, |b, x, y| b.ins().umin(x, y)),
        I8x16MaxS => binop(t, I8X16, |b, x, y| b.ins().smax(x, y)),
        I16x8MaxS => binop(t, I16X8, |b, x, y| b.ins().smax(x, y)),
        I32x4MaxS => binop(t, I32X4, |b, x, y| b.ins().smax(x, y)),
        I8x16MaxU => binop(t, I8X16, |b, x, y| b.ins().umax(x, y)),
        I16x8MaxU => binop(t, I16X8, |b, x, y| b.ins().umax(x, y)),
        I32x4MaxU => binop(t, I32X4, |b, x, y| b.ins().umax(x, y)),
        I8x16AvgrU => binop(t, I8X16, |b, x, y| b.ins().avg_round(x, y)),
        I16x8AvgrU => binop(t, I16X8, |b, x, y| b.ins().avg_round(x, y)),
        I16x8Q15MulrSatS => binop(t, I16X8, |b, x, y| b.ins().sqmul_round_sat(x, y)),

        // -------- narrowing and widening --------
        I8x16NarrowI16x8S => binop(t, I16X8, |b, x, y| b.ins().snarrow(x, y)),
        I8x16NarrowI16x8U => binop(t, I16X8, |b, x, y| b.ins().unarrow(x, y)),
        I16x8NarrowI32x4S => binop(t, I32X4, |b, x, y| b.ins().snarrow(x, y)),
        I16x8NarrowI32x4U => binop(t, I32X4, |b, x, y| b.ins().unarrow(x, y)),
        I16x8ExtendLowI8x16S => unop(t, I8X16, |b, x| b.ins().swiden_low(x)),
        I16x8ExtendHighI8x16S => unop(t, I8X16, |b, x| b.ins().swiden_high(x)),
        I16x8ExtendLowI8x16U => unop(t, I8X16, |b, x| b.ins().uwiden_low(x)),
        I16x8ExtendHighI8x16U => unop(t, I8X16, |b, x| b.ins().uwiden_high(x)),
        I32x4ExtendLowI16x8S => unop(t, I16X8, |b, x| b.ins().swiden_low(x)),
        I32x4ExtendHighI16x8S => unop(t, I16X8, |b, x| b.ins().swiden_high(x)),
        I32x4ExtendLowI16x8U => unop(t, I16X8, |b, x| b.ins().uwiden_low(x)),
        I32x4ExtendHighI16x8U => unop(t, I16X8, |b, x| b.ins().uwiden_high(x)),
        I64x2ExtendLowI32x4S => unop(t, I32X4, |b, x| b.ins().swiden_low(x)),
        I64x2ExtendHighI32x4S => unop(t, I32X4, |b, x| b.ins().swiden_high(x)),
        I64x2ExtendLowI32x4U => unop(t, I32X4, |b, x| b.ins().uwiden_low(x)),
        I64x2ExtendHighI32x4U => unop(t, I32X4, |b, x| b.ins().uwiden_high(x)),

        I16x8ExtAddPairwiseI8x16S => unop(t, I8X16, |b, x| ext_add_pairwise(b, x, true)),
        I16x8ExtAddPairwiseI8x16U => unop(t, I8X16, |b, x| ext_add_pairwise(b, x, false)),
        I32x4ExtAddPairwiseI16x8S => unop(t, I16X8, |b, x| ext_add_pairwise(b, x, true)),
        I32x4ExtAddPairwiseI16x8U => unop(t, I16X8, |b, x| ext_add_pairwise(b, x, false)),

        I16x8ExtMulLowI8x16S => binop(t, I8X16, |b, x, y| ext_mul(b, x, y, true, false)),
        I16x8ExtMulHighI8x16S => binop(t, I8X16, |b, x, y| ext_mul(b, x, y, true, true)),
        I16x8ExtMulLowI8x16U => binop(t, I8X16, |b, x, y| ext_mul(b, x, y, false, false)),
        I16x8ExtMulHighI8x16U => binop(t, I8X16, |b, x, y| ext_mul(b, x, y, false, true)),
        I32x4ExtMulLowI16x8S => binop(t, I16X8, |b, x, y| ext_mul(b, x, y, true, false)),
        I32x4ExtMulHighI16x8S => binop(t, I16X8, |b, x, y| ext_mul(b, x, y, true, true)),
        I32x4ExtMulLowI16x8U => binop(t, I16X8, |b, x, y| ext_mul(b, x, y, false, false)),
        I32x4ExtMulHighI16x8U => binop(t, I16X8, |b, x, y| ext_mul(b, x, y, false, true)),
        I64x2ExtMulLowI32x4S => binop(t, I32X4, |b, x, y| ext_mul(b, x, y, true, false)),
        I64x2ExtMulHighI32x4S => binop(t, I32X4, |b, x, y| ext_mul(b, x, y, true, true)),
        I64x2ExtMulLowI32x4U => binop(t, I32X4, |b, x, y| ext_mul(b, x, y, false, false)),
        I64x2ExtMulHighI32x4U => binop(t, I32X4, |b, x, y| ext_mul(b, x, y, false, true)),

        I32x4DotI16x8S => binop(t, I16X8, |b, x, y| {
            // Exact products of the widened lanes, summed in pairs (the
            // pattern Cranelift lowers to `pmaddwd` on x64).
            let lo = ext_mul(b, x, y, true, false);
            let hi = ext_mul(b, x, y, true, true);
            b.ins().iadd_pairwise(lo, hi)
        }),

        // -------- floating point --------
        F32x4Ceil => unop(t, F32X4, |b, x| b.ins().ceil(x)),
        F64x2Ceil => unop(t, F64X2, |b, x| b.ins().ceil(x)),
        F32x4Floor => unop(t, F32X4, |b, x| b.ins().floor(x)),
        F64x2Floor => unop(t, F64X2, |b, x| b.ins().floor(x)),
        F32x4Trunc => unop(t, F32X4, |b, x| b.ins().trunc(x)),
        F64x2Trunc => unop(t, F64X2, |b, x| b.ins().trunc(x)),
        F32x4Nearest => unop(t, F32X4, |b, x| b.ins().nearest(x)),
        F64x2Nearest => unop(t, F64X2, |b, x| b.ins().nearest(x)),
        F32x4Abs => unop(t, F32X4, |b, x| b.ins().fabs(x)),
        F64x2Abs => unop(t, F64X2, |b, x| b.ins().fabs(x)),
        F32x4Neg => unop(t, F32X4, |b, x| b.ins().fneg(x)),
        F64x2Neg => unop(t, F64X2, |b, x| b.ins().fneg(x)),
        F32x4Sqrt => unop(t, F32X4, |b, x| b.ins().sqrt(x)),
        F64x2Sqrt => unop(t, F64X2, |b, x| b.ins().sqrt(x)),
        F32x4Add => binop(t, F32X4, |b, x, y| b.ins().fadd(x, y)),
        F64x2Add => binop(t, F64X2, |b, x, y| b.ins().fadd(x, y)),
        F32x4Sub => binop(t, F32X4, |b, x, y| b.ins().fsub(x, y)),
        F64x2Sub => binop(t, F64X2, |b, x, y| b.ins().fsub(x, y)),
        F32x4Mul => binop(t, F32X4, |b, x, y| b.ins().fmul(x, y)),
        F64x2Mul => binop(t, F64X2, |b, x, y| b.ins().fmul(x, y)),
        F32x4Div => binop(t, F32X4, |b, x, y| b.ins().fdiv(x, y)),
        F64x2Div => binop(t, F64X2, |b, x, y| b.ins().fdiv(x, y)),
        // `fmin`/`fmax` have wasm's semantics: NaN if either operand is
        // NaN, and -0 < +0.
        F32x4Min | F32x4RelaxedMin => binop(t, F32X4, |b, x, y| b.ins().fmin(x, y)),
        F64x2Min | F64x2RelaxedMin => binop(t, F64X2, |b, x, y| b.ins().fmin(x, y)),
        F32x4Max | F32x4RelaxedMax => binop(t, F32X4, |b, x, y| b.ins().fmax(x, y)),
        F64x2Max | F64x2RelaxedMax => binop(t, F64X2, |b, x, y| b.ins().fmax(x, y)),
        F32x4PMin => binop(t, F32X4, |b, x, y| pmin(b, F32X4, x, y)),
        F64x2PMin => binop(t, F64X2, |b, x, y| pmin(b, F64X2, x, y)),
        F32x4PMax => binop(t, F32X4, |b, x, y| pmax(b, F32X4, x, y)),
        F64x2PMax => binop(t, F64X2, |b, x, y| pmax(b, F64X2, x, y)),

        // -------- conversions --------
        I32x4TruncSatF32x4S => unop(t, F32X4, |b, x| b.ins().fcvt_to_sint_sat(I32X4, x)),
        I32x4TruncSatF32x4U => unop(t, F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x)),
        F32x4ConvertI32x4S => unop(t, I32X4, |b, x| b.ins().fcvt_from_sint(F32X4, x)),
        F32x4ConvertI32x4U => unop(t, I32X4, |b, x| b.ins().fcvt_from_uint(F32X4, x)),
        I32x4TruncSatF64x2SZero => {
            let x = pop_as(t, F64X2);
            let zero = typed_zero(t, I64X2);
            let wide = t.b.ins().fcvt_to_sint_sat(I64X2, x);
            let v = t.b.ins().snarrow(wide, zero);
            t.push(v);
        }
        I32x4TruncSatF64x2UZero => {
            let x = pop_as(t, F64X2);
            let zero = typed_zero(t, I64X2);
            let wide = t.b.ins().fcvt_to_uint_sat(I64X2, x);
            let v = t.b.ins().uunarrow(wide, zero);
            t.push(v);
        }
        F64x2ConvertLowI32x4S => unop(t, I32X4, |b, x| {
            let w = b.ins().swiden_low(x);
            b.ins().fcvt_from_sint(F64X2, w)
        }),
        F64x2ConvertLowI32x4U => unop(t, I32X4, |b, x| {
            let w = b.ins().uwiden_low(x);
            b.ins().fcvt_from_uint(F64X2, w)
        }),
        F32x4DemoteF64x2Zero => unop(t, F64X2, |b, x| b.ins().fvdemote(x)),
        F64x2PromoteLowF32x4 => unop(t, F32X4, |b, x| b.ins().fvpromote_low(x)),

        // -------- relaxed SIMD --------
        I8x16RelaxedSwizzle => {
            // Either `swizzle` (out-of-range indices give 0) or `pshufb`
            // (indices with the top bit clear select lane `i % 16`).
            if t.env.isa.has_x86_pshufb_lowering() {
                binop(t, I8X16, |b, x, y| b.ins().x86_pshufb(x, y))
            } else {
                binop(t, I8X16, |b, x, y| b.ins().swizzle(x, y))
            }
        }
        I32x4RelaxedTruncF32x4S => {
            // `cvttps2dq` gives INT_MIN for NaN and out-of-range lanes, an
            // allowed result; elsewhere use the saturating conversion.
            if is_x64(t) {
                unop(t, F32X4, |b, x| b.ins().x86_cvtt2dq(I32X4, x))
            } else {
                unop(t, F32X4, |b, x| b.ins().fcvt_to_sint_sat(I32X4, x))
            }
        }
        I32x4RelaxedTruncF32x4U => unop(t, F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x)),
        I32x4RelaxedTruncF64x2SZero => {
            let x = pop_as(t, F64X2);
            let zero = typed_zero(t, I64X2);
            let wide = if is_x64(t) {
                t.b.ins().x86_cvtt2dq(I64X2, x)
            } else {
                t.b.ins().fcvt_to_sint_sat(I64X2, x)
            };
            let v = t.b.ins().snarrow(wide, zero);
            t.push(v);
        }
        I32x4RelaxedTruncF64x2UZero => {
            let x = pop_as(t, F64X2);
            let zero = typed_zero(t, I64X2);
            let wide = t.b.ins().fcvt_to_uint_sat(I64X2, x);
            let v = t.b.ins().uunarrow(wide, zero);
            t.push(v);
        }
        F32x4RelaxedMadd => madd(t, F32X4, false),
        F64x2RelaxedMadd => madd(t, F64X2, false),
        F32x4RelaxedNmadd => madd(t, F32X4, true),
        F64x2RelaxedNmadd => madd(t, F64X2, true),
        I8x16RelaxedLaneselect => laneselect(t, I8X16),
        I16x8RelaxedLaneselect => laneselect(t, I16X8),
        I32x4RelaxedLaneselect => laneselect(t, I32X4),
        I64x2RelaxedLaneselect => laneselect(t, I64X2),
        I16x8RelaxedQ15mulrS => {
            // `pmulhrsw` differs from the saturating form only for
            // -32768 * -32768 (it gives -32768), which is allowed.
            if t.env.isa.has_x86_pmulhrsw_lowering() {
                binop(t, I16X8, |b, x, y| b.ins().x86_pmulhrsw(x, y))
            } else {
                binop(t, I16X8, |b, x, y| b.ins().sqmul_round_sat(x, y))
            }
        }
        I16x8RelaxedDotI8x16I7x16S => {
            let (a, b) = pop2_as(t, I8X16);
            let v = relaxed_dot(t, a, b);
            t.push(v);
        }
        I32x4RelaxedDotI8x16I7x16AddS => {
            let (a, b, c) = pop3_as(t, I8X16);
            let dot = relaxed_dot(t, a, b);
            let sum = ext_add_pairwise(&mut t.b, dot, true);
            let c = t.bitcast_vec(c, I32X4);
            let v = t.b.ins().iadd(sum, c);
            t.push(v);
        }

        _ => return Ok(false),
    }
    Ok(true)
}

// ---- operand helpers ------------------------------------------------------

fn pop_as(t: &mut Translator<'_, '_>, ty: Type) -> Value {
    let v = t.pop();
    t.bitcast_vec(v, ty)
}

fn pop2_as(t: &mut Translator<'_, '_>, ty: Type) -> (Value, Value) {
    let (x, y) = t.pop2();
    (t.bitcast_vec(x, ty), t.bitcast_vec(y, ty))
}

fn pop3_as(t: &mut Translator<'_, '_>, ty: Type) -> (Value, Value, Value) {
    let (x, y, z) = t.pop3();
    (
        t.bitcast_vec(x, ty),
        t.bitcast_vec(y, ty),
        t.bitcast_vec(z, ty),
    )
}

/// Pops one vector as `ty`, pushes `f(vector)`.
fn unop(
    t: &mut Translator<'_, '_>,
    ty: Type,
    f: impl FnOnce(&mut FunctionBuilder<'_>, Value) -> Value,
) {
    let x = pop_as(t, ty);
    let r = f(&mut t.b, x);
    t.push(r);
}

/// Pops two vectors as `ty`, pushes `f(first, second)`.
fn binop(
    t: &mut Translator<'_, '_>,
    ty: Type,
    f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Value,
) {
    let (x, y) = pop2_as(t, ty);
    let r = f(&mut t.b, x, y);
    t.push(r);
}

/// A zero vector of type `ty` (typed, so that lowering patterns such as
/// `snarrow(fcvt_to_sint_sat(x), vconst 0)` match).
fn typed_zero(t: &mut Translator<'_, '_>, ty: Type) -> Value {
    let c = t.b.func.dfg.constants.insert(vec![0u8; 16].into());
    t.b.ins().vconst(ty, c)
}

fn is_x64(t: &Translator<'_, '_>) -> bool {
    t.env.isa.name() == "x64"
}

// ---- memory -----------------------------------------------------------------

/// `v128.loadN_splat`: loads one lane and replicates it.
fn load_splat(t: &mut Translator<'_, '_>, memarg: &MemArg, ty: Type) {
    let lane = ty.lane_type();
    let (addr, off) = t.mem_addr(memarg, lane.bytes());
    let s = t.b.ins().load(lane, heap_flags(), addr, off);
    let v = t.b.ins().splat(ty, s);
    t.push(v);
}

/// `v128.loadN_zero`: loads lane 0, zeroes the others.
fn load_zero(t: &mut Translator<'_, '_>, memarg: &MemArg, ty: Type) {
    let lane = ty.lane_type();
    let (addr, off) = t.mem_addr(memarg, lane.bytes());
    let s = t.b.ins().load(lane, heap_flags(), addr, off);
    let v = t.b.ins().scalar_to_vector(ty, s);
    t.push(v);
}

/// `v128.loadN_lane`: `[addr, vec] -> [vec']`.
fn load_lane(t: &mut Translator<'_, '_>, memarg: &MemArg, lane: u8, ty: Type) {
    let vec = pop_as(t, ty);
    let lane_ty = ty.lane_type();
    let (addr, off) = t.mem_addr(memarg, lane_ty.bytes());
    let s = t.b.ins().load(lane_ty, heap_flags(), addr, off);
    let v = t.b.ins().insertlane(vec, s, lane);
    t.push(v);
}

/// `v128.storeN_lane`: `[addr, vec] -> []`.
fn store_lane(t: &mut Translator<'_, '_>, memarg: &MemArg, lane: u8, ty: Type) {
    let vec = pop_as(t, ty);
    let lane_ty = ty.lane_type();
    let (addr, off) = t.mem_addr(memarg, lane_ty.bytes());
    let s = t.b.ins().extractlane(vec, lane);
    t.b.ins().store(heap_flags(), s, addr, off);
}

// ---- lanes --------------------------------------------------------------------

/// Narrows a wasm scalar operand (`i32` for 8/16-bit lanes) to `ty`'s lane
/// type.
fn to_lane(t: &mut Translator<'_, '_>, s: Value, ty: Type) -> Value {
    let lane = ty.lane_type();
    if lane == I8 || lane == I16 {
        t.b.ins().ireduce(lane, s)
    } else {
        s
    }
}

fn splat(t: &mut Translator<'_, '_>, ty: Type) {
    let s = t.pop();
    let s = to_lane(t, s, ty);
    let v = t.b.ins().splat(ty, s);
    t.push(v);
}

/// `extract_lane`; `signed` says how 8/16-bit lanes widen to `i32`.
fn extract_lane(t: &mut Translator<'_, '_>, ty: Type, lane: u8, signed: Option<bool>) {
    let vec = pop_as(t, ty);
    let s = t.b.ins().extractlane(vec, lane);
    let s = match signed {
        Some(true) => t.b.ins().sextend(I32, s),
        Some(false) => t.b.ins().uextend(I32, s),
        None => s,
    };
    t.push(s);
}

fn replace_lane(t: &mut Translator<'_, '_>, ty: Type, lane: u8) {
    let s = t.pop();
    let vec = pop_as(t, ty);
    let s = to_lane(t, s, ty);
    let v = t.b.ins().insertlane(vec, s, lane);
    t.push(v);
}

// ---- comparisons and reductions ---------------------------------------------

fn icmp(t: &mut Translator<'_, '_>, ty: Type, cc: IntCC) {
    binop(t, ty, |b, x, y| b.ins().icmp(cc, x, y));
}

fn fcmp(t: &mut Translator<'_, '_>, ty: Type, cc: FloatCC) {
    binop(t, ty, |b, x, y| b.ins().fcmp(cc, x, y));
}

fn all_true(t: &mut Translator<'_, '_>, ty: Type) {
    let v = pop_as(t, ty);
    let r = t.b.ins().vall_true(v);
    let r = t.b.ins().uextend(I32, r);
    t.push(r);
}

fn bitmask(t: &mut Translator<'_, '_>, ty: Type) {
    let v = pop_as(t, ty);
    let r = t.b.ins().vhigh_bits(I32, v);
    t.push(r);
}

// ---- integer helpers --------------------------------------------------------

#[derive(Clone, Copy)]
enum Shift {
    Left,
    RightS,
    RightU,
}

/// Vector shift by a scalar `i32`, taken modulo the lane width as wasm
/// requires (made explicit rather than relying on the lowering).
fn shift(t: &mut Translator<'_, '_>, ty: Type, kind: Shift) {
    let amt = t.pop();
    let v = pop_as(t, ty);
    let mask = i64::from(ty.lane_bits() - 1);
    let amt = t.b.ins().band_imm_u(amt, mask);
    let r = match kind {
        Shift::Left => t.b.ins().ishl(v, amt),
        Shift::RightS => t.b.ins().sshr(v, amt),
        Shift::RightU => t.b.ins().ushr(v, amt),
    };
    t.push(r);
}

/// Sum of adjacent lane pairs, widened to twice the lane width.
fn ext_add_pairwise(b: &mut FunctionBuilder<'_>, x: Value, signed: bool) -> Value {
    let (lo, hi) = if signed {
        (b.ins().swiden_low(x), b.ins().swiden_high(x))
    } else {
        (b.ins().uwiden_low(x), b.ins().uwiden_high(x))
    };
    b.ins().iadd_pairwise(lo, hi)
}

/// Widening multiply of the low or high halves of `x` and `y`.
fn ext_mul(b: &mut FunctionBuilder<'_>, x: Value, y: Value, signed: bool, high: bool) -> Value {
    let widen = |b: &mut FunctionBuilder<'_>, v: Value| match (signed, high) {
        (true, false) => b.ins().swiden_low(v),
        (true, true) => b.ins().swiden_high(v),
        (false, false) => b.ins().uwiden_low(v),
        (false, true) => b.ins().uwiden_high(v),
    };
    let x = widen(b, x);
    let y = widen(b, y);
    b.ins().imul(x, y)
}

// ---- float helpers ----------------------------------------------------------

/// `pmin(a, b) = b < a ? b : a` (written in the shape Cranelift lowers to
/// `minps`/`minpd`).
fn pmin(b: &mut FunctionBuilder<'_>, ty: Type, x: Value, y: Value) -> Value {
    let c = b.ins().fcmp(FloatCC::LessThan, y, x);
    let c = bitcast(b, ty, c);
    b.ins().bitselect(c, y, x)
}

/// `pmax(a, b) = a < b ? b : a`.
fn pmax(b: &mut FunctionBuilder<'_>, ty: Type, x: Value, y: Value) -> Value {
    let c = b.ins().fcmp(FloatCC::LessThan, x, y);
    let c = bitcast(b, ty, c);
    b.ins().bitselect(c, y, x)
}

fn bitcast(b: &mut FunctionBuilder<'_>, ty: Type, v: Value) -> Value {
    let flags = ir::MemFlagsData::new().with_endianness(ir::Endianness::Little);
    b.ins().bitcast(ty, flags, v)
}

/// `relaxed_madd(a, b, c) = a * b + c` and `relaxed_nmadd = -(a * b) + c`,
/// fused when the target has a native FMA and unfused otherwise (both are
/// allowed).
fn madd(t: &mut Translator<'_, '_>, ty: Type, negate: bool) {
    let (a, b, c) = pop3_as(t, ty);
    let a = if negate { t.b.ins().fneg(a) } else { a };
    let v = if t.env.isa.has_native_fma() {
        t.b.ins().fma(a, b, c)
    } else {
        let p = t.b.ins().fmul(a, b);
        t.b.ins().fadd(p, c)
    };
    t.push(v);
}

/// `relaxed_laneselect(a, b, m)`: a bitwise select, or a select on each
/// lane's top bit where the target has one (`blendv`); both are allowed.
fn laneselect(t: &mut Translator<'_, '_>, ty: Type) {
    let (a, b, m) = pop3_as(t, ty);
    let v = if t.env.isa.has_blendv_lowering(ty) {
        t.b.ins().blendv(m, a, b)
    } else {
        t.b.ins().bitselect(m, a, b)
    };
    t.push(v);
}

/// `i16x8.relaxed_dot_i8x16_i7x16_s`: `a` signed; `b` is signed or
/// unsigned (same result for its intended 0..=127 range).
fn relaxed_dot(t: &mut Translator<'_, '_>, a: Value, b: Value) -> Value {
    if t.env.isa.has_x86_pmaddubsw_lowering() {
        // Signed bytes of `a` times unsigned bytes of `b`, pairs summed with
        // signed saturation.
        t.b.ins().x86_pmaddubsw(a, b)
    } else {
        // Exact signed products summed in pairs (wrapping in 16 bits).
        let lo = ext_mul(&mut t.b, a, b, true, false);
        let hi = ext_mul(&mut t.b, a, b, true, true);
        t.b.ins().iadd_pairwise(lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use crate::Compiler;
    use weft_environ::{default_features, translate_module};

    /// `(name, params, results, body)` for one test function each.
    fn cases() -> Vec<(String, &'static str, &'static str, String)> {
        let mut c = Vec::new();
        let mut add = |ops: &[&str], params: &'static str, results: &'static str, body: &str| {
            for op in ops {
                c.push((op.to_string(), params, results, body.replace("OP", op)));
            }
        };
        let un_v = [
            "v128.not",
            "i8x16.abs",
            "i16x8.abs",
            "i32x4.abs",
            "i64x2.abs",
            "i8x16.neg",
            "i16x8.neg",
            "i32x4.neg",
            "i64x2.neg",
            "i8x16.popcnt",
            "i16x8.extend_low_i8x16_s",
            "i16x8.extend_high_i8x16_s",
            "i16x8.extend_low_i8x16_u",
            "i16x8.extend_high_i8x16_u",
            "i32x4.extend_low_i16x8_s",
            "i32x4.extend_high_i16x8_s",
            "i32x4.extend_low_i16x8_u",
            "i32x4.extend_high_i16x8_u",
            "i64x2.extend_low_i32x4_s",
            "i64x2.extend_high_i32x4_s",
            "i64x2.extend_low_i32x4_u",
            "i64x2.extend_high_i32x4_u",
            "i16x8.extadd_pairwise_i8x16_s",
            "i16x8.extadd_pairwise_i8x16_u",
            "i32x4.extadd_pairwise_i16x8_s",
            "i32x4.extadd_pairwise_i16x8_u",
            "f32x4.ceil",
            "f32x4.floor",
            "f32x4.trunc",
            "f32x4.nearest",
            "f32x4.abs",
            "f32x4.neg",
            "f32x4.sqrt",
            "f64x2.ceil",
            "f64x2.floor",
            "f64x2.trunc",
            "f64x2.nearest",
            "f64x2.abs",
            "f64x2.neg",
            "f64x2.sqrt",
            "i32x4.trunc_sat_f32x4_s",
            "i32x4.trunc_sat_f32x4_u",
            "f32x4.convert_i32x4_s",
            "f32x4.convert_i32x4_u",
            "i32x4.trunc_sat_f64x2_s_zero",
            "i32x4.trunc_sat_f64x2_u_zero",
            "f64x2.convert_low_i32x4_s",
            "f64x2.convert_low_i32x4_u",
            "f32x4.demote_f64x2_zero",
            "f64x2.promote_low_f32x4",
            "i32x4.relaxed_trunc_f32x4_s",
            "i32x4.relaxed_trunc_f32x4_u",
            "i32x4.relaxed_trunc_f64x2_s_zero",
            "i32x4.relaxed_trunc_f64x2_u_zero",
        ];
        add(&un_v, "v128", "v128", "(OP (local.get 0))");
        let mut bin_v: Vec<String> = [
            "v128.and",
            "v128.andnot",
            "v128.or",
            "v128.xor",
            "i8x16.swizzle",
            "i8x16.relaxed_swizzle",
            "i8x16.narrow_i16x8_s",
            "i8x16.narrow_i16x8_u",
            "i16x8.narrow_i32x4_s",
            "i16x8.narrow_i32x4_u",
            "i16x8.q15mulr_sat_s",
            "i16x8.relaxed_q15mulr_s",
            "i32x4.dot_i16x8_s",
            "i16x8.relaxed_dot_i8x16_i7x16_s",
            "i8x16.avgr_u",
            "i16x8.avgr_u",
            "i16x8.mul",
            "i32x4.mul",
            "i64x2.mul",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for sh in ["i8x16", "i16x8", "i32x4", "i64x2"] {
            for op in ["add", "sub", "eq", "ne"] {
                bin_v.push(format!("{sh}.{op}"));
            }
        }
        for sh in ["i8x16", "i16x8"] {
            for op in ["add_sat_s", "add_sat_u", "sub_sat_s", "sub_sat_u"] {
                bin_v.push(format!("{sh}.{op}"));
            }
        }
        for sh in ["i8x16", "i16x8", "i32x4"] {
            for op in [
                "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u", "min_s", "min_u",
                "max_s", "max_u",
            ] {
                bin_v.push(format!("{sh}.{op}"));
            }
        }
        for op in ["lt_s", "gt_s", "le_s", "ge_s"] {
            bin_v.push(format!("i64x2.{op}"));
        }
        for (a, b) in [("i16x8", "i8x16"), ("i32x4", "i16x8"), ("i64x2", "i32x4")] {
            for op in ["low", "high"] {
                for s in ["s", "u"] {
                    bin_v.push(format!("{a}.extmul_{op}_{b}_{s}"));
                }
            }
        }
        for sh in ["f32x4", "f64x2"] {
            for op in [
                "eq",
                "ne",
                "lt",
                "gt",
                "le",
                "ge",
                "add",
                "sub",
                "mul",
                "div",
                "min",
                "max",
                "pmin",
                "pmax",
                "relaxed_min",
                "relaxed_max",
            ] {
                bin_v.push(format!("{sh}.{op}"));
            }
        }
        let bin_v: Vec<&str> = bin_v.iter().map(|s| s.as_str()).collect();
        add(
            &bin_v,
            "v128 v128",
            "v128",
            "(OP (local.get 0) (local.get 1))",
        );
        let tern_v = [
            "v128.bitselect",
            "f32x4.relaxed_madd",
            "f32x4.relaxed_nmadd",
            "f64x2.relaxed_madd",
            "f64x2.relaxed_nmadd",
            "i8x16.relaxed_laneselect",
            "i16x8.relaxed_laneselect",
            "i32x4.relaxed_laneselect",
            "i64x2.relaxed_laneselect",
            "i32x4.relaxed_dot_i8x16_i7x16_add_s",
        ];
        add(
            &tern_v,
            "v128 v128 v128",
            "v128",
            "(OP (local.get 0) (local.get 1) (local.get 2))",
        );
        let to_i32 = [
            "v128.any_true",
            "i8x16.all_true",
            "i16x8.all_true",
            "i32x4.all_true",
            "i64x2.all_true",
            "i8x16.bitmask",
            "i16x8.bitmask",
            "i32x4.bitmask",
            "i64x2.bitmask",
        ];
        add(&to_i32, "v128", "i32", "(OP (local.get 0))");
        let mut shifts = Vec::new();
        for sh in ["i8x16", "i16x8", "i32x4", "i64x2"] {
            for op in ["shl", "shr_s", "shr_u"] {
                shifts.push(format!("{sh}.{op}"));
            }
        }
        let shifts: Vec<&str> = shifts.iter().map(|s| s.as_str()).collect();
        add(
            &shifts,
            "v128 i32",
            "v128",
            "(OP (local.get 0) (local.get 1))",
        );
        // Splats, lanes, constants, shuffles.
        add(
            &["i8x16.splat", "i16x8.splat", "i32x4.splat"],
            "i32",
            "v128",
            "(OP (local.get 0))",
        );
        add(&["i64x2.splat"], "i64", "v128", "(OP (local.get 0))");
        add(&["f32x4.splat"], "f32", "v128", "(OP (local.get 0))");
        add(&["f64x2.splat"], "f64", "v128", "(OP (local.get 0))");
        add(
            &["i8x16.extract_lane_s", "i8x16.extract_lane_u"],
            "v128",
            "i32",
            "(OP 15 (local.get 0))",
        );
        add(
            &["i16x8.extract_lane_s", "i16x8.extract_lane_u"],
            "v128",
            "i32",
            "(OP 7 (local.get 0))",
        );
        add(
            &["i32x4.extract_lane"],
            "v128",
            "i32",
            "(OP 3 (local.get 0))",
        );
        add(
            &["i64x2.extract_lane"],
            "v128",
            "i64",
            "(OP 1 (local.get 0))",
        );
        add(
            &["f32x4.extract_lane"],
            "v128",
            "f32",
            "(OP 2 (local.get 0))",
        );
        add(
            &["f64x2.extract_lane"],
            "v128",
            "f64",
            "(OP 1 (local.get 0))",
        );
        add(
            &["i8x16.replace_lane"],
            "v128 i32",
            "v128",
            "(OP 9 (local.get 0) (local.get 1))",
        );
        add(
            &["i16x8.replace_lane", "i32x4.replace_lane"],
            "v128 i32",
            "v128",
            "(OP 1 (local.get 0) (local.get 1))",
        );
        add(
            &["i64x2.replace_lane"],
            "v128 i64",
            "v128",
            "(OP 1 (local.get 0) (local.get 1))",
        );
        add(
            &["f32x4.replace_lane"],
            "v128 f32",
            "v128",
            "(OP 3 (local.get 0) (local.get 1))",
        );
        add(
            &["f64x2.replace_lane"],
            "v128 f64",
            "v128",
            "(OP 0 (local.get 0) (local.get 1))",
        );
        add(&["v128.const"], "", "v128", "(OP i32x4 1 2 3 0x80000000)");
        add(
            &["i8x16.shuffle"],
            "v128 v128",
            "v128",
            "(OP 0 17 2 19 4 21 6 23 31 30 29 28 27 26 25 16 (local.get 0) (local.get 1))",
        );
        // Memory.
        let loads = [
            "v128.load",
            "v128.load8x8_s",
            "v128.load8x8_u",
            "v128.load16x4_s",
            "v128.load16x4_u",
            "v128.load32x2_s",
            "v128.load32x2_u",
            "v128.load8_splat",
            "v128.load16_splat",
            "v128.load32_splat",
            "v128.load64_splat",
            "v128.load32_zero",
            "v128.load64_zero",
        ];
        add(&loads, "ADDR", "v128", "(OP offset=7 (local.get 0))");
        add(
            &["v128.store"],
            "ADDR v128",
            "",
            "(OP offset=3 (local.get 0) (local.get 1))",
        );
        for (n, lane) in [(8, 15), (16, 7), (32, 3), (64, 1)] {
            let load = format!("v128.load{n}_lane");
            let store = format!("v128.store{n}_lane");
            c.push((
                load.clone(),
                "ADDR v128",
                "v128",
                format!("({load} offset=1 {lane} (local.get 0) (local.get 1))"),
            ));
            c.push((
                store.clone(),
                "ADDR v128",
                "",
                format!("({store} {lane} (local.get 0) (local.get 1))"),
            ));
        }
        c
    }

    fn module_text(memory: &str) -> (String, Vec<String>) {
        let addr = if memory.starts_with("i64") {
            "i64"
        } else {
            "i32"
        };
        let mut wat = format!("(module (memory {memory})\n");
        let mut names = Vec::new();
        for (name, params, results, body) in cases() {
            let params = if params.is_empty() {
                String::new()
            } else {
                format!("(param {})", params.replace("ADDR", addr))
            };
            let results = if results.is_empty() {
                String::new()
            } else {
                format!("(result {results})")
            };
            wat.push_str(&format!("  (func {params} {results} {body})\n"));
            names.push(name);
        }
        wat.push(')');
        (wat, names)
    }

    fn compile_all(opt: &str, memory: &str) {
        let (wat, names) = module_text(memory);
        let wasm = wat::parse_str(&wat).unwrap();
        let translation = translate_module(&wasm, default_features()).unwrap();
        let compiler = Compiler::new_native(opt, Default::default()).unwrap();
        let info = &translation.info;
        let mut allocs = Default::default();
        for (i, body) in translation.bodies.into_iter().enumerate() {
            let index = info.num_imported_funcs + i as u32;
            let (_, a) = compiler
                .compile_function(info, index, body, allocs)
                .unwrap_or_else(|e| panic!("{} ({opt}, memory {memory}): {e:?}", names[i]));
            allocs = a;
        }
    }

    #[test]
    fn every_simd_operator_compiles_unoptimized() {
        compile_all("none", "1");
    }

    #[test]
    fn every_simd_operator_compiles_optimized() {
        compile_all("speed", "1");
    }

    #[test]
    fn simd_memory_accesses_with_explicit_bounds_checks() {
        // memory64 needs explicit bounds checks.
        compile_all("speed", "i64 1");
    }

    /// The names of every SIMD and relaxed-SIMD operator wasmparser knows
    /// (the `Operator` variant names).
    macro_rules! simd_operator_names {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
            &[$(stringify!($op)),*]
        };
    }

    #[test]
    fn cases_cover_every_operator() {
        // Which operators the cases' module really contains, as wasmparser
        // decodes them: no hand-kept list or count to drift.
        let (wat, _) = module_text("1");
        let wasm = wat::parse_str(&wat).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
            if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut ops = body.get_operators_reader().unwrap();
                while !ops.eof() {
                    let op = format!("{:?}", ops.read().unwrap());
                    let name = op.split([' ', '{']).next().unwrap().to_string();
                    seen.insert(name);
                }
            }
        }
        let all: &[&str] = wasmparser::for_each_visit_simd_operator!(simd_operator_names);
        let missing: Vec<&str> = all
            .iter()
            .copied()
            .filter(|op| !seen.contains(*op))
            .collect();
        assert!(
            all.len() > 200,
            "wasmparser lists only {} SIMD operators",
            all.len()
        );
        assert!(
            missing.is_empty(),
            "SIMD operators without a compile case: {missing:?}"
        );
    }
}
