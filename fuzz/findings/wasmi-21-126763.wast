;; Found by the differential fuzzer (fuzz/): weft-fuzz --seed 21 --case 126763
;; wasmi 2 disagrees with weft and wasmtime 49.0.3 (f96eabaa1 2026-10-14): globals: weft [("W", I64(0))], wasmi [("W", I64(4641991490919901872))]
;; The assertions are weft's outcome, after shrinking; `wasmtime wast` passes them
;; (-W memory64=y,multi-memory=y).
(module
  (type (;0;) (func (param f64) (result funcref)))
  (memory (;0;) 26 45)
  (global (;0;) (mut i64) i64.const 0)
  (global (;1;) (mut i32) i32.const 0)
  (global (;2;) (mut i32) i32.const 0)
  (global (;3;) (mut v128) v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
  (global (;4;) (mut i64) i64.const 0)
  (global (;5;) (mut i32) i32.const 26)
  (export "" (func 0))
  (export "W" (global 0))
  (elem (;0;) funcref)
  (func (;0;) (type 0) (param f64) (result funcref)
    (local v128 v128 f64 v128 v128 v128 v128 v128)
    global.get 5
    i32.eqz
    if ;; label = @1
      unreachable
    end
    global.get 5
    global.set 5
    f32.const -0x1.883088p-36 (;=-0.000000000022293396;)
    loop (result i64) ;; label = @1
      global.get 5
      i32.eqz
      if ;; label = @2
        unreachable
      end
      global.get 5
      i32.const 1
      i32.sub
      global.set 5
      local.get 0
      i32.const 285234228
      local.get 0
      f64.const nan (;=NaN;)
      local.get 3
      local.get 3
      f64.eq
      select
      memory.size
      i32x4.splat
      i64x2.bitmask
      if (type 0) (param f64) (result funcref) ;; label = @2
        local.set 0
        f64.const 0x1.2ec67c6262785p-889 (;=0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000286559218021011;)
        br 1 (;@1;)
        i32.trunc_sat_f64_u
        i64.load offset=273845 align=1
        i64.const 1
        i32.const 0
        f32.convert_i32_u
        local.get 4
        i8x16.all_true
        br 1 (;@1;)
        loop (result v128) ;; label = @3
          global.get 5
          i32.eqz
          if ;; label = @4
            unreachable
          end
          global.get 5
          global.set 5
          i64.const 1
          block (result f64) ;; label = @4
            br 1 (;@3;)
            elem.drop 0
            nop
            block ;; label = @5
              loop ;; label = @6
                global.get 5
                i32.eqz
                if ;; label = @7
                  unreachable
                end
                global.get 5
                global.set 5
                loop ;; label = @7
                  global.get 5
                  if ;; label = @8
                    unreachable
                  end
                  global.get 5
                  global.set 5
                  local.get 0
                  f64.neg
                  f64x2.splat
                  f32x4.abs
                  f32x4.demote_f64x2_zero
                  loop (result funcref) ;; label = @8
                    global.get 5
                    if ;; label = @9
                      unreachable
                    end
                    global.get 5
                    i32.const 1
                    i32.sub
                    global.set 5
                    block (result f32) ;; label = @9
                      i32.const 1
                      i64.const 1
                      f32.const 0x1.fp-145 (;=0.000000000000000000000000000000000000000000043;)
                      local.get 0
                      i32.const 0
                      loop (result f32) ;; label = @10
                        global.get 5
                        if ;; label = @11
                          unreachable
                        end
                        global.get 5
                        global.set 5
                        ref.null extern
                        memory.size
                        br 4 (;@6;)
                        i32.popcnt
                        i16x8.splat
                        i64x2.extend_high_i32x4_s
                        i32x4.extend_high_i16x8_u
                        f64x2.sqrt
                        local.tee 8
                        v128.const i32x4 0x00000000 0x7ff80000 0x00000000 0x7ff80000
                        local.get 8
                        local.get 8
                        f64x2.eq
                        v128.bitselect
                        ref.null extern
                        br 4 (;@6;)
                        global.get 0
                        global.set 0
                        i32.const 0
                        global.get 1
                        i32.xor
                        global.set 1
                        drop
                        global.get 3
                        v128.xor
                        global.set 3
                        drop
                        f32.const -0x1.f93fccp-61 (;=-0.00000000000000000085592545;)
                      end
                      i32.reinterpret_f32
                      global.get 1
                      i32.xor
                      global.set 1
                      global.get 2
                      i32.xor
                      global.set 2
                      i64.reinterpret_f64
                      global.get 0
                      i64.xor
                      global.set 0
                      i32.reinterpret_f32
                      global.get 1
                      i32.xor
                      global.set 1
                      global.get 4
                      i64.xor
                      global.set 4
                      global.get 2
                      i32.xor
                      global.set 2
                      f32.const 0x1.941fdap+66 (;=116480930000000000000;)
                    end
                    i32.reinterpret_f32
                    global.get 1
                    i32.xor
                    global.set 1
                    ref.null func
                  end
                  drop
                  global.get 3
                  v128.xor
                  global.set 3
                end
              end
            end
            f64.const 0x1.c40d33c59d4afp-730 (;=0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000031264478078449865;)
          end
          i64.reinterpret_f64
          global.get 0
          i64.xor
          global.set 0
          global.get 4
          i64.xor
          global.set 4
          v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
        end
        global.get 3
        v128.xor
        global.set 3
        global.get 2
        i32.xor
        global.set 2
        i32.reinterpret_f32
        global.get 1
        i32.xor
        global.set 1
        global.get 4
        i64.xor
        global.set 4
        global.get 4
        i64.xor
        global.set 4
        ref.null func
      else
        i64.reinterpret_f64
        global.get 0
        i64.xor
        global.set 0
        ref.null func
      end
      drop
      i32.const 1
      i32.xor
      global.set 2
      i64.reinterpret_f64
      global.get 0
      i64.xor
      global.set 0
      i64.const 18014398509481983
    end
    global.get 4
    i64.xor
    global.set 4
    i32.reinterpret_f32
    global.get 1
    i32.xor
    global.set 1
    ref.null func
  )
)

(assert_return (invoke "" (f64.const 221.33333333333331)) (ref.null func))
(assert_return (get "W") (i64.const 0))
