;; Found by the differential fuzzer (fuzz/): weft-fuzz --seed 21 --case 910057
;; wasmi 2 disagrees with weft and wasmtime 49.0.3 (f96eabaa1 2026-10-14): call  [I64(619510580224712263)]: weft Returned([V128(0)]), wasmi Returned([V128(87645970972029204743367109903644622857)])
;; The assertions are weft's outcome, after shrinking; `wasmtime wast` passes them
;; (-W memory64=y,multi-memory=y).
(module
  (type (;0;) (func (param i64) (result v128)))
  (memory (;0;) i64 0 52)
  (memory (;1;) i64 1 26)
  (global (;0;) (mut f32) f32.const -0x1.fd766ep-38 (;=-0.0000000000072398992;))
  (global (;1;) (mut i32) i32.const 0)
  (global (;2;) (mut v128) v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
  (global (;3;) (mut i32) i32.const 0)
  (global (;4;) (mut i64) i64.const 0)
  (global (;5;) (mut i64) i64.const 0)
  (global (;6;) (mut i32) i32.const 9)
  (export "" (func 1))
  (func (;0;) (type 0) (param i64) (result v128)
    unreachable
  )
  (func (;1;) (type 0) (param i64) (result v128)
    (local v128 v128 f64 f64 v128 v128 v128 v128 f64 f64)
    global.get 6
    i32.eqz
    if ;; label = @1
      unreachable
    end
    global.get 6
    i32.const 1
    i32.sub
    global.set 6
    memory.size
    data.drop 0
    i32.const 1
    if (type 0) (param i64) (result v128) ;; label = @1
      f64.load 1 offset=12321
      f32.demote_f64
      global.set 0
      ref.null extern
      i32.const 1
      data.drop 0
      local.get 1
      f64.const -nan:0xfe00000000000 (;=NaN;)
      local.get 3
      f64.ne
      br_table 0 (;@1;) 1 0 (;@1;)
      i32.const -1922075496
      f32.convert_i32_s
      f32.neg
      i32.const 2145404617
      f64.convert_i32_u
      i32.trunc_f64_u
      loop ;; label = @2
        global.get 6
        i32.eqz
        if ;; label = @3
          unreachable
        end
        global.get 6
        i32.const 1
        i32.sub
        global.set 6
        br 0 (;@2;)
        memory.size 1
        local.get 4
        block ;; label = @3
          block (result i64) ;; label = @4
            br 2 (;@2;)
            memory.size 1
            v128.load16_splat 1 offset=9697 align=1
            i32.const 2048
            memory.size 1
            i64.load8_u
            i32.const 365440728
            if (type 0) (param i64) (result v128) ;; label = @5
              v128.load32_splat offset=2254833 align=2
              f32x4.ceil
              local.tee 5
              v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000
              local.get 5
              local.get 5
              f32x4.eq
              v128.bitselect
              i64x2.extend_high_i32x4_u
              v128.const i32x4 0xb063c166 0x67f5549a 0x6b009ad3 0xbeebdb5c
              f32x4.gt
              i32x4.extadd_pairwise_i16x8_s
              f32x4.floor
              local.tee 6
              v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000
              local.get 6
              local.get 6
              f32x4.eq
              v128.bitselect
              f64x2.ceil
              local.tee 7
              v128.const i32x4 0x00000000 0x7ff80000 0x00000000 0x7ff80000
              local.get 7
              local.get 7
              f64x2.eq
              v128.bitselect
              i8x16.extract_lane_s 5
              i32.popcnt
              i16x8.splat
              i16x8.extend_low_i8x16_s
              i16x8.extract_lane_s 2
              br 3 (;@2;)
              i64.const 1
              return_call 0
              loop ;; label = @6
                global.get 6
                i32.eqz
                if ;; label = @7
                  unreachable
                end
                global.get 6
                global.set 6
                br 0 (;@6;)
                data.drop 0
                data.drop 0
              end
              f64x2.ceil
              local.tee 8
              v128.const i32x4 0x00000000 0x7ff80000 0x00000000 0x7ff80000
              local.get 8
              v128.bitselect
              i32x4.extend_low_i16x8_u
              i32x4.extend_high_i16x8_s
              i64x2.extend_low_i32x4_u
              i32.const 0
              f32.convert_i32_s
              i32.trunc_sat_f32_u
              i64x2.shr_s
              i64x2.extract_lane 0
              v128.load8x8_s align=4
              f64x2.promote_low_f32x4
              i8x16.abs
              i32x4.trunc_sat_f64x2_u_zero
              i8x16.bitmask
              i32.div_u
              f32.const 0x1.c0c1f4p-22 (;=0.0000004179381;)
              i64.trunc_f32_s
              v128.load16x4_u align=1
              ref.null extern
              i64.const 1229782938247303441
              i64.const 32768
              memory.size 1
              i32.load8_u
              i32.const 3407868
              f32.convert_i32_s
              i64.const -17
              f64.convert_i64_s
              block ;; label = @6
                v128.const i32x4 0x343d2041 0x6070fe46 0x73bdca11 0x3b7b7311
                i32.const -9
                i32.eqz
                if ;; label = @7
                  nop
                else
                  i32.const 0
                  local.get 0
                  local.get 0
                  i64.le_s
                  i64.extend_i32_u
                  br 4 (;@3;)
                  f64.convert_i64_u
                  i32.trunc_f64_s
                  i32.extend16_s
                  i32.add
                  ref.null func
                  global.get 1
                  global.set 1
                  drop
                  global.get 1
                  i32.xor
                  global.set 1
                end
                global.get 2
                v128.xor
                global.set 2
              end
              i64.reinterpret_f64
              global.get 5
              i64.xor
              global.set 5
              i32.reinterpret_f32
              global.get 3
              i32.xor
              global.set 3
              global.get 1
              i32.xor
              global.set 1
              global.get 4
              i64.xor
              global.set 4
              global.get 4
              i64.xor
              global.set 4
              drop
              global.get 2
              v128.xor
              global.set 2
              global.get 1
              i32.xor
              global.set 1
              v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
            else
              global.get 4
              i64.xor
              global.set 4
              v128.const i32x4 0xb6aab27d 0xde128afb 0xdfd88ba8 0xec41fc5a
            end
            global.get 2
            v128.xor
            global.set 2
            global.get 1
            i32.xor
            global.set 1
            global.get 2
            v128.xor
            global.set 2
            i64.const 0
          end
          global.get 4
          i64.xor
          global.set 4
        end
        i64.reinterpret_f64
        global.get 5
        i64.xor
        global.set 5
        global.get 4
        i64.xor
        global.set 4
      end
      global.get 1
      i32.xor
      global.set 1
      i32.reinterpret_f32
      global.get 3
      i32.xor
      global.set 3
      global.get 1
      i32.xor
      global.set 1
      drop
      v128.const i32x4 0x2132741e 0x0e45a05b 0x61d7d8b9 0x4f1e6979
    else
      global.get 4
      i64.xor
      global.set 4
      v128.const i32x4 0x08000000 0x00000000 0xffffffff 0xdfffffff
    end
  )
  (data (;0;) "")
)

(assert_return (invoke "" (i64.const 619510580224712263)) (v128.const i64x2 0 0))
