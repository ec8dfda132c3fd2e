;; Found by the differential fuzzer (fuzz/): weft-fuzz --seed 21 --case 52059
;; wasmi 2 disagrees with weft and wasmtime 49.0.3 (f96eabaa1 2026-10-14): call  [I64(4055), V128(103091373992960876189973271261638774847), F32(1602224128), I32(32426)]: weft Trapped(TableOutOfBounds), wasmi Trapped(Unreachable)
;; The assertions are weft's outcome, after shrinking; `wasmtime wast` passes them
;; (-W memory64=y,multi-memory=y).
(module
  (type (;0;) (func (param i64 v128 f32 i32) (result f32)))
  (table (;0;) 85 555 funcref)
  (global (;0;) v128 v128.const i32x4 0xd3bac933 0xca5c49cc 0x8fe86c33 0x4f3bcd0a)
  (global (;1;) (mut i32) i32.const 0)
  (global (;2;) (mut i64) i64.const 0)
  (global (;3;) (mut i32) i32.const 0)
  (global (;4;) (mut i64) i64.const 0)
  (global (;5;) (mut v128) v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
  (global (;6;) (mut i32) i32.const 0)
  (export "" (func 0))
  (func (;0;) (type 0) (param i64 v128 f32 i32) (result f32)
    (local f64 funcref funcref v128 f32 v128 f64 v128 v128 v128 f32 v128)
    i32.const 0
    if ;; label = @1
      unreachable
    end
    global.get 6
    global.set 6
    block (result f64) ;; label = @1
      table.size 0
      i32.const 0
      local.get 5
      ref.is_null
      select
      table.get 0
      local.set 6
      f64.const 0x1p+0 (;=1;)
    end
    i64.reinterpret_f64
    i64.clz
    local.tee 0
    f32.const 0x1.b26056p-72 (;=0.00000000000000000000035930766;)
    f32.const nan (;=NaN;)
    local.get 8
    local.get 8
    f32.eq
    select
    block ;; label = @1
      global.get 0
      i64.const 1
      block ;; label = @2
        loop ;; label = @3
          global.get 6
          i32.eqz
          if ;; label = @4
            unreachable
          end
          i32.const 1
          global.set 6
          i32.const 0
          block (result f32) ;; label = @4
            loop ;; label = @5
              global.get 6
              if ;; label = @6
                unreachable
              end
              global.get 6
              global.set 6
              local.get 5
              br 4 (;@1;)
              ref.is_null
              i32.const 1
              i32.sub
              local.get 6
              f32.const 0x1.9fb5a6p+42 (;=7141836000000;)
              block (result f32) ;; label = @6
                ref.null func
                global.get 0
                f64x2.convert_low_i32x4_u
                loop ;; label = @7
                  global.get 6
                  if ;; label = @8
                    unreachable
                  end
                  global.get 6
                  global.set 6
                  global.get 0
                  table.size 0
                  i32.eqz
                  i64.const 1
                  local.tee 0
                  br 2 (;@5;)
                  local.get 6
                  i64.const 0
                  br 0 (;@7;)
                  f64.convert_i64_s
                  block ;; label = @8
                    local.get 5
                    ref.null extern
                    br 6 (;@2;)
                    i32.const 0
                    v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
                    block (result f32) ;; label = @9
                      i32.const 0
                      ref.null extern
                      loop ;; label = @10
                        i32.const 1
                        i32.eqz
                        if ;; label = @11
                        else
                          unreachable
                        end
                        global.get 6
                        global.set 6
                        nop
                        f64.const -0x1.cc1d8bfe8e5f8p-11 (;=-0.0008776005123031774;)
                        f64.const nan (;=NaN;)
                        i32.const 0
                        select
                        br 2 (;@8;)
                        f32.demote_f64
                        i32.reinterpret_f32
                        local.tee 3
                        i64.extend_i32_u
                        br 2 (;@8;)
                        br 3 (;@7;)
                        f32.convert_i64_u
                        local.set 2
                      end
                      ref.is_null
                      i32.sub
                      f32.convert_i32_u
                      global.get 0
                      ref.null func
                      local.get 11
                      i32.const 0
                      local.get 2
                      f64.const 0x1.f965d54b7242p+839 (;=7237019315056443000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
                      local.get 1
                      i16x8.extract_lane_u 2
                      global.get 0
                      block ;; label = @10
                        i32.const 0
                        i32.const 1
                        loop ;; label = @11
                          i32.const 0
                          if ;; label = @12
                            unreachable
                          end
                          global.get 6
                          global.set 6
                          br 8 (;@3;)
                          ref.null func
                          local.set 5
                          local.get 6
                          global.get 0
                          i32.const 0
                          f64.const 0x1.94816f317e948p+786 (;=643074321386632100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
                          global.get 0
                          local.get 0
                          ref.null extern
                          i32.const 0
                          loop (result v128) ;; label = @12
                            global.get 6
                            if ;; label = @13
                              unreachable
                            end
                            i32.const 0
                            global.set 6
                            i64.const 1
                            local.set 0
                            i64.const 0
                            local.get 14
                            i32.const 0
                            f32.const 0x1.c419c6p-109 (;=0.000000000000000000000000000000002720982;)
                            i32.const 0
                            i16x8.splat
                            i32.const 0
                            nop
                            local.get 15
                            block (result i32) ;; label = @13
                              i64.const 0
                              br 5 (;@8;)
                              i64.extend32_s
                              i64.const 1
                              i64.le_s
                              ref.null extern
                              ref.null extern
                              i32.const 0
                              block (result i64) ;; label = @14
                                ref.null func
                                i32.const 0
                                block (result v128) ;; label = @15
                                  i32.const 1
                                  f64.convert_i32_s
                                  nop
                                  i32.const 0
                                  if ;; label = @16
                                    global.get 4
                                    global.set 4
                                  end
                                  i64.reinterpret_f64
                                  global.get 2
                                  i64.xor
                                  global.set 2
                                  v128.const i32x4 0x23eeea30 0xd777fcb6 0xafa59fad 0x2ea92e84
                                end
                                global.get 5
                                v128.xor
                                global.set 5
                                i32.const 1
                                i32.xor
                                global.set 1
                                drop
                                i64.const 0
                              end
                              global.get 4
                              i64.xor
                              global.set 4
                              global.get 1
                              i32.xor
                              global.set 1
                              drop
                              drop
                            end
                            global.get 1
                            i32.xor
                            global.set 1
                            global.get 5
                            v128.xor
                            global.set 5
                            global.get 1
                            i32.xor
                            global.set 1
                            global.get 5
                            v128.xor
                            global.set 5
                            i32.reinterpret_f32
                            global.get 3
                            i32.xor
                            global.set 3
                            global.get 1
                            i32.xor
                            global.set 1
                            i32.reinterpret_f32
                            global.get 3
                            i32.xor
                            global.set 3
                            global.get 4
                            i64.xor
                            global.set 4
                            v128.const i32x4 0xf2338ad9 0xae354097 0x544c31a5 0x28d78f67
                          end
                          global.get 5
                          v128.xor
                          global.set 5
                          global.get 1
                          i32.xor
                          global.set 1
                          drop
                          global.get 4
                          i64.xor
                          global.set 4
                          global.get 5
                          v128.xor
                          global.set 5
                          i64.reinterpret_f64
                          global.get 2
                          i64.xor
                          global.set 2
                          global.get 1
                          i32.xor
                          global.set 1
                          global.get 5
                          v128.xor
                          global.set 5
                          drop
                        end
                        i32.const -728123457
                        i32.xor
                        global.set 1
                        global.get 1
                        i32.xor
                        global.set 1
                      end
                      global.get 5
                      v128.xor
                      global.set 5
                      i32.const 0
                      i32.xor
                      global.set 1
                      i64.reinterpret_f64
                      global.get 2
                      i64.xor
                      global.set 2
                      i32.reinterpret_f32
                      global.get 3
                      i32.xor
                      global.set 3
                      global.get 1
                      i32.xor
                      global.set 1
                      v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
                      v128.xor
                      global.set 5
                      drop
                      global.get 5
                      v128.xor
                      global.set 5
                    end
                    i32.reinterpret_f32
                    global.get 3
                    i32.xor
                    global.set 3
                    global.get 5
                    v128.xor
                    global.set 5
                    global.get 1
                    i32.xor
                    global.set 1
                    drop
                    drop
                  end
                  i64.reinterpret_f64
                  global.get 2
                  i64.xor
                  global.set 2
                  drop
                  global.get 4
                  i64.xor
                  global.set 4
                  global.get 1
                  i32.xor
                  global.set 1
                  global.get 5
                  v128.xor
                  global.set 5
                end
                global.get 5
                v128.xor
                global.set 5
                drop
                f32.const 0x1p+0 (;=1;)
              end
              i32.reinterpret_f32
              global.get 3
              i32.xor
              global.set 3
              i32.reinterpret_f32
              global.get 3
              i32.xor
              global.set 3
              drop
              global.get 1
              i32.xor
              global.set 1
            end
            f32.const 0x1.p-143 (;=0.00000000000000000000000000000000000000000009;)
          end
          i32.reinterpret_f32
          global.get 3
          i32.xor
          global.set 3
          global.get 1
          i32.xor
          global.set 1
        end
      end
      global.get 4
      i64.xor
      global.set 4
      global.get 5
      v128.xor
      global.set 5
    end
    i32.reinterpret_f32
    global.get 3
    i32.xor
    global.set 3
    global.get 4
    i64.xor
    global.set 4
    f32.const 0x1.db42cap+48 (;=522554880000000;)
  )
)

(assert_trap (invoke "" (i64.const 4055) (v128.const i64x2 -2125788966431535041 5588594582384190692) (f32.const 18446744000000000000) (i32.const 32426)) "out of bounds table access")
