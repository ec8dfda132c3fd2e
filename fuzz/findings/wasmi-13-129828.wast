;; Found by the differential fuzzer (fuzz/): weft-fuzz --seed 13 --case 129828
;; wasmi 2 disagrees with weft and wasmtime 49.0.3 (f96eabaa1 2026-10-14): globals: weft [(")", I32(-311916136))], wasmi [(")", I32(-1313251362))]
;; The assertions are weft's outcome, after shrinking; `wasmtime wast` passes them
;; (-W memory64=y,multi-memory=y).
(module
  (type (;0;) (func (param f32) (result f64 i32)))
  (global (;0;) (mut i64) i64.const 0)
  (global (;1;) (mut externref) ref.null extern)
  (global (;2;) funcref ref.null func)
  (global (;3;) (mut v128) v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
  (global (;4;) (mut i64) i64.const 0)
  (global (;5;) (mut v128) v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000)
  (global (;6;) (mut i32) i32.const 0)
  (global (;7;) (mut i32) i32.const 0)
  (global (;8;) (mut i64) i64.const 0)
  (global (;9;) (mut i32) i32.const 9)
  (export "" (func 0))
  (export ")" (global 7))
  (func (;0;) (type 0) (param f32) (result f64 i32)
    (local f64 v128 f64 f32 f64 f32 f64 f32)
    global.get 9
    i32.eqz
    if ;; label = @1
      unreachable
    end
    global.get 9
    i32.const 1
    i32.sub
    global.set 9
    global.get 1
    ref.null func
    f64.const -0x1.29194b2de70bbp+402 (;=-11987239825734035000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
    f64.const nan (;=NaN;)
    local.get 1
    local.get 1
    f64.eq
    select
    local.get 0
    i64.const -1048576
    i64.clz
    f32.const -0x1.72bfbcp-99 (;=-0.0000000000000000000000000000022849169;)
    i64.const 1
    f32.convert_i64_s
    data.drop 1
    nop
    local.get 2
    i8x16.extract_lane_u 15
    if (type 0) (param f32) (result f64 i32) ;; label = @1
      call 1
      i16x8.splat
      i32x4.trunc_sat_f32x4_u
      i16x8.extadd_pairwise_i8x16_s
      i32x4.extend_high_i16x8_s
      i16x8.extract_lane_s 3
      i32.popcnt
      i32.const -967816791
      block (result i64) ;; label = @2
        block (result i64) ;; label = @3
          global.get 0
          i64.extend16_s
          i64.const 5445810235322850338
          i64.extend16_s
          local.get 0
          call 0
          if ;; label = @4
            i64.const 0
            block ;; label = @5
              i32.const 1771421932
              block ;; label = @6
                f64.const -nan:0xf7fffffffffff (;=NaN;)
                i64.trunc_sat_f64_s
                i64.clz
                f32.convert_i64_s
                i32.const -524288
                br_table 0 (;@6;) 1 (;@5;) 2 (;@4;) 1 (;@5;)
                block (type 0) (param f32) (result f64 i32) ;; label = @7
                  f32x4.splat
                  i32.const -25778852
                  f64.convert_i32_s
                  f64.floor
                  local.tee 3
                  f64.const nan (;=NaN;)
                  local.get 3
                  local.get 3
                  f64.eq
                  select
                  br 1 (;@6;)
                  v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
                  i16x8.all_true
                  f32.convert_i32_u
                  i32.const -4
                  br_table 1 (;@6;) 2 (;@5;) 3 (;@4;) 1 (;@6;)
                  local.get 0
                  br 2 (;@5;)
                  f32.sub
                  local.tee 4
                  f32.const nan (;=NaN;)
                  local.get 4
                  local.get 4
                  f32.eq
                  select
                  i32.reinterpret_f32
                  if ;; label = @8
                  end
                  i32.trunc_f64_s
                  global.get 2
                  local.get 0
                  block (type 0) (param f32) (result f64 i32) ;; label = @8
                    i32.trunc_sat_f32_u
                    i64.const 9007199254740991
                    block ;; label = @9
                    end
                    global.get 2
                    br 3 (;@5;)
                    i32.const -2144604939
                    f32.convert_i32_u
                    data.drop 0
                    i32.const -64
                    local.get 0
                    f64.const -nan:0xfffe000000000 (;=NaN;)
                    f64x2.splat
                    i32x4.extadd_pairwise_i16x8_u
                    i64x2.extend_low_i32x4_u
                    br 3 (;@5;)
                    i64x2.neg
                    f64.const -nan:0xffffffffffffe (;=NaN;)
                    i64.const 536870911
                    global.set 0
                    loop ;; label = @9
                      global.get 9
                      i32.eqz
                      if ;; label = @10
                        unreachable
                      end
                      global.get 9
                      i32.const 1
                      i32.sub
                      global.set 9
                      i64.const 276682340404262150
                      br 7 (;@2;)
                      global.get 0
                      i64.ctz
                      local.get 0
                      i64.trunc_sat_f32_u
                      global.set 0
                      i32.wrap_i64
                      br_table 0 (;@9;) 3 (;@6;) 4 (;@5;) 5 (;@4;) 0 (;@9;)
                      i32.const 1132014555
                      i32.eqz
                      block (result v128) ;; label = @10
                        i64.const 0
                        loop ;; label = @11
                          global.get 9
                          i32.eqz
                          if ;; label = @12
                            unreachable
                          end
                          global.get 9
                          global.set 9
                          global.get 0
                          f32.const -nan:0x7bffff (;=NaN;)
                          return_call 1
                          f64.const -0x1.a70b46e34e0cdp-483 (;=-0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000661694798321077;)
                          i64.trunc_f64_u
                          global.get 2
                          global.get 3
                          i64x2.all_true
                          i64.extend_i32_s
                          i64.const 1978870636666479106
                          i64.le_u
                          i32.extend8_s
                          if (result v128) ;; label = @12
                            v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
                            ref.null func
                            ref.null func
                            global.get 3
                            i16x8.all_true
                            i32.const 1569646237
                            f32.reinterpret_i32
                            f64.const -0x1.7a7731d98789dp-440 (;=-0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000052070093646043365;)
                            v128.const i32x4 0xe9156aca 0x7f8c5402 0x58c5b2ab 0x8ba56c1d
                            i8x16.extract_lane_s 12
                            local.get 0
                            block ;; label = @13
                              loop ;; label = @14
                                global.get 9
                                i32.eqz
                                if ;; label = @15
                                  unreachable
                                end
                                global.get 9
                                i32.const 1
                                i32.sub
                                global.set 9
                                global.get 0
                                f64.convert_i64_u
                                f64.trunc
                                local.tee 5
                                f64.const nan (;=NaN;)
                                local.get 5
                                local.get 5
                                f64.eq
                                select
                                i64.trunc_f64_s
                                i32.const 1
                                f64.convert_i32_s
                                f32.const 0x1.222222p-93 (;=0.00000000000000000000000000011443742;)
                                global.get 1
                                nop
                                i32.const 286331153
                                ref.null extern
                                ref.null extern
                                f64.const 0x1.5cec8d15bbb1ep+770 (;=8464232280845538000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
                                data.drop 1
                                i64.trunc_sat_f64_s
                                f64.reinterpret_i64
                                f64.sqrt
                                local.tee 7
                                f64.const nan (;=NaN;)
                                local.get 7
                                local.get 7
                                f64.eq
                                select
                                f64.const 0x1.4344b6ae7a2c2p-295 (;=0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000019836935641716276;)
                                block ;; label = @15
                                  br 0 (;@15;)
                                end
                                f64.ne
                                global.get 0
                                i64.ctz
                                i64.const -4503599627370496
                                i32.const 342240316
                                i32.ctz
                                i32.extend16_s
                                select
                                br 0 (;@14;)
                                i64x2.splat
                                f32x4.convert_i32x4_u
                                f64.const 0x1.fffffffep-1043 (;=0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000021219957905;)
                                i64.const 1263160385557538937
                                v128.const i32x4 0xa9bcc879 0x27c9f89b 0xd15a323d 0xd4667ddb
                                i64x2.extend_high_i32x4_u
                                i64x2.extract_lane 0
                                i64.ge_s
                                br 5 (;@9;)
                                if (result f32) ;; label = @15
                                  i32.const 7
                                  if ;; label = @16
                                    loop ;; label = @17
                                      global.get 9
                                      i32.eqz
                                      if ;; label = @18
                                        unreachable
                                      end
                                      global.get 9
                                      i32.const 1
                                      i32.sub
                                      global.set 9
                                      local.get 0
                                      i64.trunc_sat_f32_u
                                      v128.const i32x4 0xb50ae528 0xb4d9ef6e 0x1d23a538 0xb95740e0
                                      i8x16.abs
                                      i32x4.extend_low_i16x8_s
                                      data.drop 1
                                      f64.const -0x1.29e86d038890cp-742 (;=-0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000005030200449353864;)
                                      loop ;; label = @18
                                        global.get 9
                                        if ;; label = @19
                                          unreachable
                                        end
                                        global.get 9
                                        i32.const 1
                                        i32.sub
                                        global.set 9
                                        ref.null extern
                                        i64.const 0
                                        f32.const 0x1.fffp-137 (;=0.000000000000000000000000000000000000000011478;)
                                        i32.trunc_sat_f32_u
                                        f64.convert_i32_s
                                        data.drop 1
                                        ref.null func
                                        data.drop 1
                                        i64.const 1
                                        global.get 2
                                        f32.const 0x1.096804p+79 (;=626672900000000000000000;)
                                        global.get 1
                                        i32.const -612261618
                                        block (result v128) ;; label = @19
                                          data.drop 0
                                          ref.null extern
                                          nop
                                          block (result i32) ;; label = @20
                                            loop (result i64) ;; label = @21
                                              global.get 9
                                              i32.eqz
                                              if ;; label = @22
                                                unreachable
                                              end
                                              global.get 9
                                              i32.const 1
                                              i32.sub
                                              global.set 9
                                              block (result f32) ;; label = @22
                                                ref.null extern
                                                f32.const -nan:0x7f8000 (;=NaN;)
                                                br 11 (;@11;)
                                                br 7 (;@15;)
                                                f64.const -0x1.ede7ac0802dep-648 (;=-0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000016518333862370805;)
                                                f64.const -0x1.823a0314d56cfp+742 (;=-34902698768121907000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
                                                i32.trunc_f64_u
                                                f32.convert_i32_u
                                                i32.trunc_f32_s
                                                block (result f64) ;; label = @23
                                                  block ;; label = @24
                                                    br 11 (;@13;)
                                                    data.drop 0
                                                    f32.const 0x1.fffffep-126 (;=0.000000000000000000000000000000000000023509886;)
                                                    f64.promote_f32
                                                    br 1 (;@23;)
                                                    v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
                                                    i32x4.trunc_sat_f32x4_s
                                                    i64.const 0
                                                    global.get 4
                                                    i64.xor
                                                    global.set 4
                                                    global.get 4
                                                    global.set 4
                                                    global.get 5
                                                    v128.xor
                                                    global.set 5
                                                  end
                                                  f64.const -nan:0xffffffffffffb (;=NaN;)
                                                end
                                                i64.reinterpret_f64
                                                global.get 4
                                                i64.xor
                                                global.set 4
                                                global.get 6
                                                i32.xor
                                                global.set 6
                                                i64.reinterpret_f64
                                                global.get 4
                                                i64.xor
                                                global.set 4
                                                drop
                                                f32.const -0x1p+127 (;=-170141180000000000000000000000000000000;)
                                              end
                                              i32.reinterpret_f32
                                              global.get 7
                                              i32.xor
                                              global.set 7
                                              i64.const 1
                                            end
                                            global.get 8
                                            i64.xor
                                            global.set 8
                                            i32.const -67108864
                                          end
                                          global.get 6
                                          i32.xor
                                          global.set 6
                                          drop
                                          v128.const i32x4 0x47f9c930 0x37ceb6e4 0x032de879 0xf3b18f7c
                                        end
                                        global.get 5
                                        v128.xor
                                        global.set 5
                                        global.get 6
                                        i32.xor
                                        global.set 6
                                        drop
                                        i32.reinterpret_f32
                                        global.get 7
                                        i32.xor
                                        global.set 7
                                        drop
                                        global.get 8
                                        i64.xor
                                        global.set 8
                                        drop
                                        i64.reinterpret_f64
                                        global.get 4
                                        i64.xor
                                        global.set 4
                                        global.get 8
                                        i64.xor
                                        global.set 8
                                        drop
                                      end
                                      i64.reinterpret_f64
                                      global.get 4
                                      i64.xor
                                      global.set 4
                                      global.get 5
                                      v128.xor
                                      global.set 5
                                      global.get 8
                                      i64.xor
                                      global.set 8
                                    end
                                  end
                                  f32.const 0x1.fffffep-64 (;=0.00000000000000000010842021;)
                                else
                                  f32.const 0x1.1754fp-63 (;=0.00000000000000000011830161;)
                                end
                                i32.reinterpret_f32
                                global.get 7
                                i32.xor
                                global.set 7
                                i64.reinterpret_f64
                                global.get 4
                                i64.xor
                                global.set 4
                                global.get 5
                                v128.xor
                                global.set 5
                                global.get 6
                                i32.xor
                                global.set 6
                                drop
                                drop
                                global.get 6
                                i32.xor
                                global.set 6
                                drop
                                i32.reinterpret_f32
                                global.get 7
                                i32.xor
                                global.set 7
                                i64.reinterpret_f64
                                global.get 4
                                i64.xor
                                global.set 4
                                global.get 8
                                i64.xor
                                global.set 8
                              end
                            end
                            i32.reinterpret_f32
                            global.get 7
                            i32.xor
                            global.set 7
                            global.get 6
                            i32.xor
                            global.set 6
                            i64.reinterpret_f64
                            global.get 4
                            i64.xor
                            global.set 4
                            i32.reinterpret_f32
                            global.get 7
                            i32.xor
                            global.set 7
                            global.get 6
                            i32.xor
                            global.set 6
                            drop
                            drop
                          else
                            v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
                          end
                          global.get 5
                          v128.xor
                          global.set 5
                          drop
                          global.get 8
                          i64.xor
                          global.set 8
                          global.get 6
                          i32.xor
                          global.set 6
                          i64.reinterpret_f64
                          global.get 4
                          i64.xor
                          global.set 4
                          global.get 8
                          i64.xor
                          global.set 8
                        end
                        global.get 8
                        i64.xor
                        global.set 8
                        v128.const i32x4 0xffe00000 0xffffffff 0xffffffef 0xffffffff
                      end
                      global.get 5
                      v128.xor
                      global.set 5
                      global.get 6
                      i32.xor
                      global.set 6
                    end
                    i64.reinterpret_f64
                    global.get 4
                    i64.xor
                    global.set 4
                    global.get 5
                    v128.xor
                    global.set 5
                    i32.reinterpret_f32
                    global.get 7
                    i32.xor
                    global.set 7
                    global.get 6
                    i32.xor
                    global.set 6
                    i32.reinterpret_f32
                    global.get 7
                    i32.xor
                    global.set 7
                    drop
                    global.get 8
                    i64.xor
                    global.set 8
                    global.get 6
                    i32.xor
                    global.set 6
                    f64.const -nan:0xffffffff7ffff (;=NaN;)
                    i32.const -1275068416
                  end
                  global.get 6
                  i32.xor
                  global.set 6
                  i64.reinterpret_f64
                  global.get 4
                  i64.xor
                  global.set 4
                  drop
                  global.get 6
                  i32.xor
                  global.set 6
                  global.get 5
                  v128.xor
                  global.set 5
                  f64.const 0x1.4aeabedf8984p-622 (;=0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000007427142856058236;)
                  i32.const 0
                end
                global.get 6
                i32.xor
                global.set 6
                i64.reinterpret_f64
                global.get 4
                i64.xor
                global.set 4
              end
              global.get 6
              i32.xor
              global.set 6
            end
            global.get 8
            i64.xor
            global.set 8
          end
          i64.reinterpret_f64
          global.get 4
          i64.xor
          global.set 4
          global.get 8
          i64.xor
          global.set 8
        end
      end
      global.get 8
      i64.xor
      global.set 8
      global.get 6
      i32.xor
      global.set 6
    else
      i32.reinterpret_f32
      global.get 7
      i32.xor
      global.set 7
      f64.const -nan:0xffffffffc0000 (;=NaN;)
      i32.const 1397906888
    end
    global.get 6
    i32.xor
    global.set 6
    i64.reinterpret_f64
    global.get 4
    i64.xor
    global.set 4
    i32.reinterpret_f32
    global.get 7
    i32.xor
    global.set 7
    global.get 8
    i64.xor
    global.set 8
    i32.reinterpret_f32
    global.get 7
    i32.xor
    global.set 7
    i64.reinterpret_f64
    global.get 4
    i64.xor
    global.set 4
    drop
    drop
    f64.const -0x1.a5b7b035a0b51p+341 (;=-7379215828798069000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
    i32.const 1066493779
  )
  (func (;1;) (type 0) (param f32) (result f64 i32)
    unreachable
  )
  (data (;0;) "")
  (data (;1;) "")
)

(assert_return (invoke "" (f32.const 472510930000000000)) (f64.const -7379215828798069000000000000000000000000000000000000000000000000000000000000000000000000000000000000000) (i32.const 1066493779))
(assert_return (get ")") (i32.const -311916136))
