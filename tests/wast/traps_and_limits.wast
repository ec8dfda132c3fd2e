;; weft's own trap and limit checks.

(module
  (memory 1 2)
  (table 2 funcref)
  (func $f (result i32) i32.const 7)
  (elem (i32.const 0) $f)
  (type $t (func (result i32)))
  (type $u (func (param i32) (result i32)))
  (func (export "oob_load") (param i32) (result i32) local.get 0 i32.load offset=4294967295)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "call") (param i32) (result i32) local.get 0 call_indirect (type $t))
  (func (export "call_wrong") (param i32) (result i32) i32.const 0 local.get 0 call_indirect (type $u))
  (func $rec (export "rec") (param i32) (result i32) local.get 0 call $rec)
  (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
  (func (export "trunc") (param f32) (result i32) local.get 0 i32.trunc_f32_s))

(assert_trap (invoke "oob_load" (i32.const 0)) "out of bounds memory access")
(assert_trap (invoke "oob_load" (i32.const -1)) "out of bounds memory access")
(assert_return (invoke "grow" (i32.const 1)) (i32.const 1))
(assert_return (invoke "grow" (i32.const 1)) (i32.const -1))
(assert_return (invoke "call" (i32.const 0)) (i32.const 7))
(assert_trap (invoke "call" (i32.const 1)) "uninitialized element")
(assert_trap (invoke "call" (i32.const 2)) "undefined element")
(assert_trap (invoke "call_wrong" (i32.const 0)) "indirect call type mismatch")
(assert_exhaustion (invoke "rec" (i32.const 0)) "call stack exhausted")
;; The instance keeps working after exhaustion.
(assert_return (invoke "call" (i32.const 0)) (i32.const 7))
(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
(assert_trap (invoke "div" (i32.const 0x80000000) (i32.const -1)) "integer overflow")
(assert_trap (invoke "trunc" (f32.const nan)) "invalid conversion to integer")
(assert_trap (invoke "trunc" (f32.const 3e9)) "integer overflow")

;; memory64 with explicit bounds checks, including offsets near 2^64.
(module
  (memory i64 1)
  (func (export "load") (param i64) (result i32) local.get 0 i32.load offset=0xffff_ffff_ffff_fff0))
(assert_trap (invoke "load" (i64.const 0)) "out of bounds memory access")
(assert_trap (invoke "load" (i64.const 0x20)) "out of bounds memory access")
