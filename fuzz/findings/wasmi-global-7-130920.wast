;; NOT a weft regression: wasmi (the oracle) disagrees with both weft and
;; wasmtime 49 here. `weft wast` and `wasmtime wast` both get -1009844224
;; (0xc3cf0000) for the last assertion, which records wasmi's value.
;; Kept to report upstream / to re-check after a wasmi update.
;; Found by the differential fuzzer (fuzz/): weft-fuzz --seed 7 --case 130920
;; globals: weft [("3", F64(10526844517435896976)), ("4", Ref { null: false, func: true }), ("6", I64(-3433412665829347451)), (">\u{6}", I32(76808192)), ("Cx", I64(4167064372594176349)), ("ԟ", I32(2094437425))], wasmi [("3", F64(10526844517435896976)), ("4", Ref { null: false, func: true }), ("6", I64(-3433412665829347451)), (">\u{6}", I32(-144419502)), ("Cx", I64(4167064372594176349)), ("ԟ", I32(2094437425))]
;; Expected behaviour from wasmi, after shrinking.
(module
  (type (;0;) (func (param f32) (result f32 i32 i64 externref i64 f64 externref)))
  (global (;0;) f64 f64.const -0x1.6dd50a388f49p-734 (;=-0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000015813395425142396;))
  (global (;1;) funcref ref.null func)
  (global (;2;) (mut i32) i32.const 0)
  (global (;3;) (mut i64) i64.const 0)
  (global (;4;) (mut i64) i64.const 0)
  (global (;5;) (mut i32) i32.const 0)
  (global (;6;) (mut i32) i32.const 9)
  (export "" (func 2))
  (export "\u{6}" (global 2))
  (func (;0;) (type 0) (param f32) (result f32 i32 i64 externref i64 f64 externref)
    unreachable
  )
  (func (;1;) (type 0) (param f32) (result f32 i32 i64 externref i64 f64 externref)
    unreachable
  )
  (func (;2;) (type 0) (param f32) (result f32 i32 i64 externref i64 f64 externref)
    (local f32 f32 f64 f32 f32 f64 f32 f64 f64 f64 f64 f32 f32 f32 f32)
    global.get 6
    i32.eqz
    if ;; label = @1
      unreachable
    end
    global.get 6
    global.set 6
    f32.const 0x1.0ff4bep-25 (;=0.000000031659848;)
    f64.promote_f32
    loop (result i32) ;; label = @1
      i32.const 0
      if ;; label = @2
        unreachable
      end
      global.get 6
      i32.const 1
      i32.sub
      global.set 6
      nop
      f64.const 0x1.ffep-1063 (;=0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002023;)
      local.get 0
      f32.const 0x1.fp-145 (;=0.000000000000000000000000000000000000000000043;)
      i32.reinterpret_f32
      ref.func 2
      f32.const 0x1p-126 (;=0.000000000000000000000000000000000000011754944;)
      ref.func 2
      ref.is_null
      if (type 0) (param f32) (result f32 i32 i64 externref i64 f64 externref) ;; label = @2
        f32.ceil
        local.tee 1
        f32.const nan (;=NaN;)
        local.get 1
        local.get 1
        f32.eq
        select
        f32.ceil
        local.tee 2
        f32.const nan (;=NaN;)
        i32.const 0
        select
        i32.trunc_f32_s
        f32.convert_i32_s
        i32.trunc_sat_f32_u
        ref.func 2
        global.get 0
        i32.trunc_f64_s
        ref.null func
        f32.const 0x1.c2d33ep+110 (;=2285955200000000000000000000000000;)
        i64.trunc_sat_f32_u
        ref.null extern
        f64.const 0x1.0e980f4e05a28p+521 (;=7256144316398530000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
        f64.sqrt
        local.tee 3
        f64.const nan (;=NaN;)
        i32.const 0
        select
        local.get 0
        i32.trunc_sat_f32_u
        local.get 0
        call 0
        i32.const -2114977153
        if ;; label = @3
          ref.null func
          f64.const -nan:0xffffffffe0000 (;=NaN;)
          i64.const -4900154235483653926
          i32.wrap_i64
          i32.extend8_s
          br_if 2 (;@1;)
          i32.const 3
          loop ;; label = @4
            global.get 6
            i32.eqz
            if ;; label = @5
              unreachable
            end
            global.get 6
            i32.const 1
            i32.sub
            global.set 6
            i32.const 1467593539
            f32.reinterpret_i32
            f64.const -nan:0xfffe000000000 (;=NaN;)
            i32.trunc_f64_u
            block (result f32) ;; label = @5
              ref.func 2
              local.get 0
              f32.neg
              call 0
              loop ;; label = @6
                global.get 6
                i32.eqz
                if ;; label = @7
                  unreachable
                end
                global.get 6
                global.set 6
                i64.const -7040522418806644302
                block ;; label = @7
                  block (result funcref) ;; label = @8
                    local.get 0
                    f32.trunc
                    local.tee 4
                    f32.const nan (;=NaN;)
                    local.get 4
                    local.get 4
                    f32.eq
                    select
                    i64.trunc_sat_f32_s
                    ref.null extern
                    f32.const -0x1.9d26f4p+72 (;=-7621312000000000000000;)
                    f32.trunc
                    local.tee 5
                    f32.const nan (;=NaN;)
                    local.get 5
                    local.get 5
                    f32.eq
                    select
                    f32.neg
                    br 3 (;@5;)
                    global.get 1
                    local.get 0
                    return_call 0
                    f32.const -0x1.a85218p+1 (;=-3.3150053;)
                    i64.trunc_sat_f32_u
                    i64.extend32_s
                    i32.wrap_i64
                    f32.convert_i32_s
                    data.drop 0
                    i64.trunc_sat_f32_u
                    i32.wrap_i64
                    block ;; label = @9
                      ref.func 2
                      local.get 0
                      i64.const -4294967296
                      ref.null func
                      f32.const 0x1.29598p+99 (;=736202000000000000000000000000;)
                      i32.trunc_f32_s
                      block (result f64) ;; label = @10
                        f64.const 0x1.ecaa250bbb563p-621 (;=0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002211485567143558;)
                        i32.const 2147483647
                        i64.const 137438953472
                        f64.convert_i64_u
                        i32.trunc_f64_u
                        global.get 1
                        block ;; label = @11
                        end
                        br 1 (;@9;)
                        block ;; label = @11
                          ref.func 2
                          block (result f64) ;; label = @12
                            global.get 0
                            data.drop 0
                            global.get 0
                            local.tee 6
                            f64.const nan (;=NaN;)
                            local.get 6
                            local.get 6
                            f64.eq
                            select
                            i32.const -1048577
                            f64.convert_i32_s
                            local.get 0
                            i64.trunc_f32_s
                            f32.const 0x1.p-139 (;=0.000000000000000000000000000000000000000001435;)
                            f32.neg
                            local.tee 0
                            i32.const 0
                            loop ;; label = @13
                              global.get 6
                              i32.eqz
                              if ;; label = @14
                                unreachable
                              end
                              global.get 6
                              global.set 6
                              f32.const -0x1.d00686p+126 (;=-154198920000000000000000000000000000000;)
                              i32.trunc_f32_s
                              ref.null extern
                              br 6 (;@7;)
                              block (result funcref) ;; label = @14
                                f32.const 0x1.852fdap+108 (;=493353030000000000000000000000000;)
                                f32.trunc
                                local.tee 7
                                f32.const nan (;=NaN;)
                                local.get 7
                                local.get 7
                                f32.eq
                                select
                                global.get 1
                                loop (result externref) ;; label = @15
                                  global.get 6
                                  i32.eqz
                                  if ;; label = @16
                                    unreachable
                                  end
                                  global.get 6
                                  global.set 6
                                  i32.const 2097152
                                  global.get 1
                                  block (result f32) ;; label = @16
                                    f64.const 0x1.p-1055 (;=0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002590327;)
                                    i32.trunc_f64_s
                                    global.get 1
                                    block ;; label = @17
                                      f64.const -nan:0xffffffffffff0 (;=NaN;)
                                      i64.const -1671315177830786447
                                      i32.const -65537
                                      br_if 10 (;@7;)
                                      br 10 (;@7;)
                                      local.get 0
                                      global.get 1
                                      block ;; label = @18
                                        loop (result i32) ;; label = @19
                                          global.get 6
                                          i32.eqz
                                          if ;; label = @20
                                            unreachable
                                          end
                                          global.get 6
                                          global.set 6
                                          global.get 0
                                          f64.sqrt
                                          local.tee 8
                                          f64.const nan (;=NaN;)
                                          local.get 8
                                          local.get 8
                                          f64.eq
                                          select
                                          f64.ceil
                                          local.tee 9
                                          f64.const nan (;=NaN;)
                                          i32.const 0
                                          select
                                          block ;; label = @20
                                            i64.const 0
                                            data.drop 0
                                            i64.const 256
                                            local.get 0
                                            f32.const inf (;=inf;)
                                            f32.gt
                                            local.get 0
                                            i32.trunc_sat_f32_s
                                            i32.rem_u
                                            br 0 (;@20;)
                                            i32.const 8191
                                            ref.null extern
                                            ref.null extern
                                            nop
                                            loop ;; label = @21
                                              global.get 6
                                              i32.eqz
                                              if ;; label = @22
                                                unreachable
                                              end
                                              global.get 6
                                              i32.const 1
                                              i32.sub
                                              global.set 6
                                              local.get 0
                                              i64.trunc_sat_f32_u
                                              i32.wrap_i64
                                              br 10 (;@11;)
                                              i32.clz
                                              f64.convert_i32_u
                                              i64.trunc_sat_f64_u
                                              i32.const 0
                                              f64.convert_i32_u
                                              f64.const nan (;=NaN;)
                                              i32.const 0
                                              select
                                              f64.nearest
                                              local.tee 11
                                              f64.const nan (;=NaN;)
                                              local.get 11
                                              local.get 11
                                              f64.eq
                                              select
                                              loop (result i32) ;; label = @22
                                                global.get 6
                                                i32.eqz
                                                if ;; label = @23
                                                  unreachable
                                                end
                                                global.get 6
                                                i32.const 1
                                                i32.sub
                                                global.set 6
                                                i32.const -1552494313
                                                i32.const -81764055
                                                block (result i64) ;; label = @23
                                                  loop ;; label = @24
                                                    global.get 6
                                                    i32.eqz
                                                    if ;; label = @25
                                                      unreachable
                                                    end
                                                    global.get 6
                                                    i32.const 1
                                                    i32.sub
                                                    global.set 6
                                                    local.get 0
                                                    local.tee 12
                                                    f32.const nan (;=NaN;)
                                                    i32.const 0
                                                    select
                                                    local.get 0
                                                    br 2 (;@22;)
                                                    local.tee 0
                                                    f32.copysign
                                                    f32.floor
                                                    local.tee 14
                                                    f32.const nan (;=NaN;)
                                                    local.get 14
                                                    local.get 14
                                                    f32.eq
                                                    select
                                                    ref.null extern
                                                    global.get 1
                                                    block ;; label = @25
                                                      global.get 1
                                                      ref.func 2
                                                      loop ;; label = @26
                                                        global.get 6
                                                        i32.eqz
                                                        if ;; label = @27
                                                          unreachable
                                                        end
                                                        global.get 6
                                                        global.set 6
                                                        f32.const -0x1.381d56p+57 (;=-175704900000000000;)
                                                        return_call 1
                                                        local.get 0
                                                        nop
                                                        f32.trunc
                                                        local.tee 15
                                                        f32.const nan (;=NaN;)
                                                        local.get 15
                                                        local.get 15
                                                        f32.eq
                                                        select
                                                        local.set 0
                                                        br 7 (;@19;)
                                                        global.get 0
                                                        br 16 (;@10;)
                                                        ref.null func
                                                        br 25 (;@1;)
                                                        i32.const 0
                                                        f32.reinterpret_i32
                                                        global.get 1
                                                        block (result i32) ;; label = @27
                                                          f32.const 0x1.71e96cp+3 (;=11.559744;)
                                                          i32.reinterpret_f32
                                                          i64.extend_i32_s
                                                          global.get 0
                                                          loop ;; label = @28
                                                            global.get 6
                                                            i32.eqz
                                                            if ;; label = @29
                                                              unreachable
                                                            end
                                                            global.get 6
                                                            global.set 6
                                                            block (result i32) ;; label = @29
                                                              ref.func 2
                                                              drop
                                                              i32.const -32768
                                                            end
                                                            global.get 5
                                                            i32.xor
                                                            global.set 5
                                                          end
                                                          i64.reinterpret_f64
                                                          i64.const 7110386775129745074
                                                          i64.xor
                                                          global.set 4
                                                          global.get 3
                                                          i64.xor
                                                          global.set 3
                                                          i32.const 1264919572
                                                        end
                                                        global.get 5
                                                        i32.xor
                                                        global.set 5
                                                        drop
                                                        i32.reinterpret_f32
                                                        global.get 2
                                                        i32.xor
                                                        global.set 2
                                                        drop
                                                        drop
                                                        i64.reinterpret_f64
                                                        global.get 4
                                                        i64.xor
                                                        global.set 4
                                                        global.get 3
                                                        i64.xor
                                                        global.set 3
                                                        drop
                                                        drop
                                                        global.get 5
                                                        i32.xor
                                                        global.set 5
                                                        i32.reinterpret_f32
                                                        global.get 2
                                                        i32.xor
                                                        global.set 2
                                                      end
                                                      drop
                                                      drop
                                                    end
                                                    drop
                                                    drop
                                                    i32.reinterpret_f32
                                                    global.get 2
                                                    i32.xor
                                                    global.set 2
                                                  end
                                                  i64.const 5009610029931547733
                                                end
                                                global.get 3
                                                i64.xor
                                                global.set 3
                                                global.get 5
                                                i32.xor
                                                global.set 5
                                              end
                                              global.get 5
                                              i32.xor
                                              global.set 5
                                              i64.reinterpret_f64
                                              global.get 4
                                              i64.xor
                                              global.set 4
                                              global.get 3
                                              i64.xor
                                              global.set 3
                                            end
                                            drop
                                            drop
                                            global.get 5
                                            i32.xor
                                            global.set 5
                                            global.get 5
                                            i32.xor
                                            global.set 5
                                            global.get 3
                                            i64.xor
                                            global.set 3
                                            global.get 3
                                            i64.xor
                                            global.set 3
                                          end
                                          i64.reinterpret_f64
                                          global.get 4
                                          i64.xor
                                          global.set 4
                                          i32.const 872415232
                                        end
                                        global.get 5
                                        i32.xor
                                        global.set 5
                                      end
                                      drop
                                      i32.reinterpret_f32
                                      global.get 2
                                      i32.xor
                                      global.set 2
                                      global.get 3
                                      i64.xor
                                      global.set 3
                                      i64.reinterpret_f64
                                      global.get 4
                                      i64.xor
                                      global.set 4
                                    end
                                    drop
                                    global.get 5
                                    i32.xor
                                    global.set 5
                                    f32.const 0x1.3a9ec8p+118 (;=408400420000000000000000000000000000;)
                                  end
                                  i32.reinterpret_f32
                                  global.get 2
                                  i32.xor
                                  global.set 2
                                  drop
                                  global.get 5
                                  i32.xor
                                  global.set 5
                                  ref.null extern
                                end
                                drop
                                drop
                                i32.reinterpret_f32
                                global.get 2
                                i32.xor
                                global.set 2
                                ref.null func
                              end
                              drop
                              drop
                              global.get 5
                              i32.xor
                              global.set 5
                            end
                            global.get 5
                            i32.xor
                            global.set 5
                            i32.reinterpret_f32
                            global.get 2
                            i32.xor
                            global.set 2
                            global.get 3
                            i64.xor
                            global.set 3
                            i64.reinterpret_f64
                            global.get 4
                            i64.xor
                            global.set 4
                            i64.reinterpret_f64
                            global.get 4
                            i64.xor
                            global.set 4
                          end
                          i64.reinterpret_f64
                          global.get 4
                          i64.xor
                          global.set 4
                          drop
                        end
                        drop
                        global.get 5
                        i32.xor
                        global.set 5
                        global.get 5
                        i32.xor
                        global.set 5
                      end
                      i64.reinterpret_f64
                      global.get 4
                      i64.xor
                      global.set 4
                      global.get 5
                      i32.xor
                      global.set 5
                      drop
                      global.get 3
                      i64.xor
                      global.set 3
                      i32.reinterpret_f32
                      i32.const 0
                      i32.xor
                      global.set 2
                      drop
                    end
                    global.get 5
                    i32.xor
                    global.set 5
                    drop
                    i64.reinterpret_f64
                    global.get 4
                    i64.xor
                    global.set 4
                    global.get 3
                    i64.xor
                    global.set 3
                    drop
                    global.get 3
                    i64.xor
                    global.set 3
                    global.get 5
                    i32.xor
                    global.set 5
                    i32.reinterpret_f32
                    global.get 2
                    i32.xor
                    global.set 2
                    drop
                    drop
                    global.get 3
                    i64.xor
                    global.set 3
                    ref.null func
                  end
                  drop
                end
                global.get 3
                i64.xor
                global.set 3
              end
              drop
              i64.reinterpret_f64
              global.get 4
              i64.xor
              global.set 4
              global.get 3
              i64.xor
              global.set 3
              drop
              global.get 3
              i64.xor
              global.set 3
              global.get 5
              i32.xor
              global.set 5
              i32.reinterpret_f32
              global.get 2
              i32.xor
              global.set 2
              drop
              f32.const 0x1.fffp-137 (;=0.000000000000000000000000000000000000000011478;)
            end
            i32.reinterpret_f32
            global.get 2
            i32.xor
            global.set 2
            global.get 5
            i32.xor
            global.set 5
            i32.reinterpret_f32
            global.get 2
            i32.xor
            global.set 2
          end
          global.get 5
          i32.xor
          global.set 5
          i64.reinterpret_f64
          global.get 4
          i64.xor
          global.set 4
          drop
        end
        drop
        drop
        global.get 3
        i64.xor
        global.set 3
        drop
        global.get 3
        i64.xor
        global.set 3
        global.get 5
        i32.xor
        global.set 5
        i32.reinterpret_f32
        global.get 2
        i32.xor
        global.set 2
        global.get 5
        i32.xor
        global.set 5
        i64.reinterpret_f64
        global.get 4
        i64.xor
        global.set 4
        drop
        global.get 3
        i64.xor
        global.set 3
        drop
        global.get 5
        i32.xor
        global.set 5
        drop
        global.get 5
        i32.xor
        global.set 5
        f32.const -nan:0x7fff00 (;=NaN;)
        i32.const -288345286
        i64.const 6240469352588193663
        ref.null extern
        i64.const 0
        f64.const -nan:0xffffffffdffff (;=NaN;)
        ref.null extern
      else
        i32.const 2094437409
        i64.const 3484116361811734405
        ref.null extern
        i64.const -2305843009213693952
        f64.const -inf (;=-inf;)
        ref.null extern
      end
      drop
      i64.reinterpret_f64
      global.get 4
      i64.xor
      global.set 4
      global.get 3
      i64.xor
      global.set 3
      drop
      global.get 3
      i64.xor
      global.set 3
      global.get 5
      i32.xor
      global.set 5
      i32.reinterpret_f32
      global.get 2
      i32.xor
      global.set 2
      drop
      global.get 5
      i32.xor
      global.set 5
      i32.reinterpret_f32
      global.get 2
      i32.xor
      global.set 2
      i64.reinterpret_f64
      global.get 4
      i64.xor
      global.set 4
      i32.const 15
    end
    global.get 5
    i32.xor
    global.set 5
    i64.reinterpret_f64
    global.get 4
    i64.xor
    global.set 4
    f32.const 0x1.d084f6p+56 (;=130750580000000000;)
    i32.const 0
    i64.const -4676269342796330230
    ref.null extern
    i64.const -16777216
    f64.const -0x1.4f856eae76b82p-898 (;=-0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000006202173640049364;)
    ref.null extern
  )
  (data (;0;) "")
)

(assert_return (invoke "" (f32.const -207)) (f32.const 130750580000000000) (i32.const 0) (i64.const -4676269342796330230) (ref.null extern) (i64.const -16777216) (f64.const -0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000006202173640049364) (ref.null extern))
(assert_return (get "\u{6}") (i32.const 8388608))
