;; Found by the differential fuzzer (fuzz/): weft-fuzz --seed 21 --case 828694
;; wasmi 2 disagrees with weft and wasmtime 49.0.3 (f96eabaa1 2026-10-14): globals: weft [("", V128(33237950392612334710455602028973391872))], wasmi [("", V128(9168955081925329958))]
;; The assertions are weft's outcome, after shrinking; `wasmtime wast` passes them
;; (-W memory64=y,multi-memory=y).
(module
  (type (;0;) (func (param v128) (result externref)))
  (memory (;0;) i64 8)
  (global (;0;) (mut v128) v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
  (global (;1;) (mut i32) i32.const 0)
  (global (;2;) (mut i32) i32.const 0)
  (global (;3;) (mut i64) i64.const 0)
  (global (;4;) (mut i64) i64.const 0)
  (global (;5;) (mut i32) i32.const 9)
  (export "]" (func 0))
  (export "" (global 0))
  (func (;0;) (type 0) (param v128) (result externref)
    (local v128 v128 v128 v128 v128 v128 v128 v128 f64 f64 f32 v128 v128)
    i32.const 0
    if ;; label = @1
      unreachable
    end
    global.get 5
    i32.const 1
    i32.sub
    global.set 5
    loop (result f32) ;; label = @1
      i32.const 0
      if ;; label = @2
        unreachable
      end
      global.get 5
      global.set 5
      loop ;; label = @2
        global.get 5
        i32.eqz
        if ;; label = @3
          unreachable
        end
        global.get 5
        global.set 5
        local.get 0
        i16x8.abs
        f32x4.extract_lane 1
        data.drop 0
        local.get 0
        memory.size
        local.get 0
        f64x2.nearest
        local.get 0
        i64x2.extend_high_i32x4_s
        i16x8.extend_high_i8x16_u
        i8x16.all_true
        if (type 0) (param v128) (result externref) ;; label = @3
          f64x2.ceil
          local.tee 2
          v128.const i32x4 0x00000000 0x7ff80000 0x00000000 0x7ff80000
          local.get 2
          v128.bitselect
          i64x2.extract_lane 1
          i32.load offset=5389851998854455572 align=2
          f32.reinterpret_i32
          i64.trunc_sat_f32_s
          block ;; label = @4
          end
          loop (result f32) ;; label = @4
            global.get 5
            if ;; label = @5
              unreachable
            end
            global.get 5
            i32.const 1
            i32.sub
            global.set 5
            local.get 3
            v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000
            local.get 4
            local.get 4
            f32x4.eq
            v128.bitselect
            i16x8.extend_low_i8x16_s
            f64x2.floor
            local.tee 5
            v128.const i32x4 0x00000000 0x7ff80000 0x00000000 0x7ff80000
            local.get 5
            v128.bitselect
            i8x16.extract_lane_s 14
            i32.popcnt
            f64.convert_i32_s
            i32.const -1148674798
            br_table 0 (;@4;) 2 (;@2;) 3 (;@1;) 3 (;@1;)
            i32.trunc_f64_u
            br_table 0 (;@4;) 2 (;@2;) 3 (;@1;) 3 (;@1;)
            br 3 (;@1;)
            local.get 0
            i64x2.neg
            i16x8.all_true
            data.drop 0
            memory.size
            i64.ctz
            i64.const 0
            i64.load8_s offset=366628
            v128.load8x8_u offset=8846 align=4
            i32x4.trunc_sat_f64x2_u_zero
            v128.store offset=197201
            i32.extend8_s
            br_if 3 (;@1;)
            v128.const i32x4 0xd8d3365a 0xa1ef3b97 0xccd08c63 0xaf37828f
            v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000
            local.get 7
            local.get 7
            f32x4.eq
            v128.bitselect
            i8x16.neg
            local.set 0
            loop (result i32) ;; label = @5
              global.get 5
              if ;; label = @6
                unreachable
              end
              global.get 5
              global.set 5
              block ;; label = @6
                memory.size
                i32.load16_u offset=168001
                i8x16.splat
                i32x4.trunc_sat_f32x4_u
                i64x2.extend_high_i32x4_u
                f64x2.trunc
                local.tee 8
                v128.const i32x4 0x00000000 0x7ff80000 0x00000000 0x7ff80000
                local.get 8
                v128.bitselect
                f64x2.promote_low_f32x4
                f64.const -nan:0xffbffffffffff (;=NaN;)
                loop ;; label = @7
                  global.get 5
                  i32.eqz
                  if ;; label = @8
                    unreachable
                  end
                  global.get 5
                  global.set 5
                  memory.size
                  i64.popcnt
                  i64.ctz
                  br 5 (;@2;)
                  v128.load64_splat offset=98303 align=1
                  f32x4.extract_lane 1
                  loop (result v128) ;; label = @8
                    global.get 5
                    i32.eqz
                    i32.eqz
                    if ;; label = @9
                      nop
                    else
                      unreachable
                    end
                    global.get 5
                    i32.const 1
                    i32.sub
                    global.set 5
                    i64.const 1491898231589977202
                    i64.load8_u offset=29937
                    i32.load8_u offset=67889
                    br_table 0 (;@8;) 1 (;@7;) 2 (;@6;) 3 (;@5;) 4 (;@4;) 6 (;@2;) 7 (;@1;) 7 (;@1;)
                    i32.const 1
                    block (result i32) ;; label = @9
                      loop (result f64) ;; label = @10
                        global.get 5
                        i32.eqz
                        if ;; label = @11
                          unreachable
                        end
                        global.get 5
                        global.set 5
                        block ;; label = @11
                          memory.size
                          f32.convert_i64_u
                          i32.trunc_sat_f32_s
                          nop
                          if ;; label = @12
                            i64.const 1
                            v128.load64_zero offset=383154
                            ref.null func
                            ref.null extern
                            i64.const 0
                            i64.extend32_s
                            i32.wrap_i64
                            memory.size
                            data.drop 0
                            i32.load8_s offset=474090
                            br_if 1 (;@11;)
                            i32.extend8_s
                            br_if 8 (;@4;)
                            ref.null extern
                            local.get 9
                            i32.trunc_f64_u
                            loop ;; label = @13
                              global.get 5
                              if ;; label = @14
                                unreachable
                              end
                              global.get 5
                              i32.const 1
                              i32.sub
                              global.set 5
                              f64.const 0x1.fffffffffffffp-768 (;=0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000012882297539194265;)
                              memory.size
                              v128.load8x8_u offset=240064
                              local.get 0
                              f64x2.extract_lane 1
                              f64.const 0x1.fffcp-1056 (;=0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000259025;)
                              block ;; label = @14
                                memory.size
                                v128.load32x2_s offset=341932 align=2
                                data.drop 0
                                data.drop 0
                                f32.const 0x1.5c89c4p+43 (;=11975680000000;)
                                f32.const nan (;=NaN;)
                                local.get 11
                                local.get 11
                                f32.eq
                                select
                                i64.trunc_f32_u
                                v128.load8_splat offset=523922
                                i16x8.extend_low_i8x16_u
                                i16x8.narrow_i32x4_u
                                i8x16.neg
                                f32x4.sqrt
                                local.tee 12
                                v128.const i32x4 0x7fc00000 0x7fc00000 0x7fc00000 0x7fc00000
                                local.get 12
                                local.get 12
                                f32x4.eq
                                v128.bitselect
                                i32x4.extend_high_i16x8_s
                                i32x4.extract_lane 0
                                i64.const 576460752303423488
                                i32.load offset=16925 align=1
                                block ;; label = @15
                                  ref.null extern
                                  block ;; label = @16
                                    block ;; label = @17
                                      f32.const -nan:0x7ffffb (;=NaN;)
                                      v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
                                      f64x2.convert_low_i32x4_s
                                      i64x2.extend_high_i32x4_s
                                      call 0
                                      i32.const -234298731
                                      br_table 0 (;@17;) 1 (;@16;) 2 (;@15;) 3 (;@14;) 4 (;@13;) 5 (;@12;) 6 (;@11;) 7 (;@10;) 9 (;@8;) 10 (;@7;) 11 (;@6;) 12 (;@5;) 13 (;@4;) 15 (;@2;) 16 (;@1;) 15 (;@2;)
                                      f32.const -inf (;=-inf;)
                                      br 1 (;@16;)
                                      i64.trunc_sat_f32_u
                                      v128.load64_splat offset=510799 align=1
                                      i16x8.extadd_pairwise_i8x16_u
                                      f64x2.floor
                                      local.tee 13
                                      v128.const i32x4 0x00000000 0x7ff80000 0x00000000 0x7ff80000
                                      local.get 13
                                      v128.bitselect
                                      i16x8.abs
                                      i64x2.bitmask
                                      if (result f64) ;; label = @18
                                        ref.null extern
                                        ref.null extern
                                        i64.const 0
                                        i32.load16_s offset=8484347341581401888 align=1
                                        f64.convert_i32_s
                                        i32.const 0
                                        block (result f32) ;; label = @19
                                          br 17 (;@2;)
                                          block (result externref) ;; label = @20
                                            br 5 (;@15;)
                                            i32.const 0
                                            i32.extend16_s
                                            block ;; label = @21
                                              data.drop 0
                                              data.drop 0
                                              br 20 (;@1;)
                                              local.get 0
                                              i8x16.extract_lane_u 11
                                              i32.clz
                                              br_if 15 (;@6;)
                                              i32.const 1472210629
                                              block (result v128) ;; label = @22
                                                data.drop 0
                                                v128.const i32x4 0x00000000 0x00000200 0xffffffff 0xfffff7ff
                                              end
                                              global.get 0
                                              v128.xor
                                              global.set 0
                                              global.get 1
                                              i32.xor
                                              global.set 1
                                            end
                                            global.get 1
                                            i32.xor
                                            global.set 1
                                            ref.null extern
                                          end
                                          drop
                                          f32.const 0x1p-119 (;=0.0000000000000000000000000000000000015046328;)
                                        end
                                        i32.reinterpret_f32
                                        global.get 2
                                        i32.xor
                                        global.set 2
                                        global.get 1
                                        i32.xor
                                        global.set 1
                                        i64.reinterpret_f64
                                        global.get 3
                                        i64.xor
                                        global.set 3
                                        drop
                                        drop
                                        f64.const -0x1.11808335c4cc1p-670 (;=-0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000021808382196066635;)
                                      else
                                        f64.const 0x1.4f269db4a68bdp+951 (;=24918748588308722000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
                                      end
                                      i64.reinterpret_f64
                                      global.get 3
                                      i64.xor
                                      global.set 3
                                      drop
                                      i32.reinterpret_f32
                                      global.get 2
                                      i32.xor
                                      global.set 2
                                    end
                                  end
                                  drop
                                end
                                global.get 1
                                i32.xor
                                global.set 1
                                global.get 1
                                i32.xor
                                global.set 1
                              end
                              i64.reinterpret_f64
                              global.get 3
                              i64.xor
                              global.set 3
                              i64.reinterpret_f64
                              global.get 3
                              i64.xor
                              global.set 3
                              global.get 0
                              v128.xor
                              global.set 0
                              drop
                            end
                            i32.const -2071286015
                            i32.xor
                            global.set 1
                            drop
                            drop
                            drop
                            global.get 0
                            v128.xor
                            global.set 0
                          end
                        end
                        f64.const -0x1.ef6dcde1267a5p+684 (;=-155331102792869410000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
                      end
                      i64.reinterpret_f64
                      global.get 3
                      i64.xor
                      global.set 3
                      i32.const 1366961293
                    end
                    global.get 1
                    i32.xor
                    global.set 1
                    global.get 1
                    i32.xor
                    global.set 1
                    v128.const i32x4 0xffc00000 0xffffffff 0x01010101 0x01010101
                  end
                  global.get 0
                  v128.xor
                  global.set 0
                  i32.reinterpret_f32
                  global.get 2
                  i32.xor
                  global.set 2
                end
                i64.reinterpret_f64
                global.get 3
                i64.xor
                global.set 3
                global.get 0
                v128.xor
                global.set 0
              end
              i32.const 763536663
            end
            global.get 1
            i32.xor
            global.set 1
            f32.const -0x1.4bab5ep+20 (;=-1358517.9;)
          end
          i32.reinterpret_f32
          global.get 2
          i32.xor
          global.set 2
          global.get 4
          i64.xor
          global.set 4
          ref.null extern
        else
          global.get 0
          v128.xor
          global.set 0
          ref.null extern
        end
        drop
        global.get 4
        i64.xor
        global.set 4
        global.get 0
        v128.xor
        global.set 0
        i32.reinterpret_f32
        global.get 2
        i32.xor
        global.set 2
      end
      f32.const -0x1.fffffep+112 (;=-10384593000000000000000000000000000;)
    end
    i32.reinterpret_f32
    global.get 2
    i32.xor
    global.set 2
    ref.null extern
  )
  (data (;0;) "")
)

(assert_return (invoke "]" (v128.const i64x2 7367828978899628955 1801832901231785917)) (ref.null extern))
(assert_return (get "") (v128.const i64x2 0 1801832901231785917))
