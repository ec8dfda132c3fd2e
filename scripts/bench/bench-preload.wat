;; The `bench` module Sightglass benchmarks import, for measuring any
;; runtime from the outside with `--preload bench=bench-preload.wat`.
;;
;; It reads WASI's monotonic clock (`clock_time_get`, id 1) and reports on
;; stderr, as whole lines the harness strips before comparing output:
;;
;;   #weft-bench init_ns=N   from this module's own instantiation (its start
;;                           function) to the first `bench.start`: the main
;;                           module's instantiation plus the guest's code
;;                           before `bench.start` (libc setup, input reading)
;;   #weft-bench exec_ns=N   from each `bench.start` to the next `bench.end`
;;
;; WASI functions use the caller's exported `memory`, so this module
;; exports its own. Memory layout: [0,8) clock result, [16,24) iovec,
;; [24,28) nwritten, [32,96) the line being formatted.
(module
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 32) "#weft-bench init_ns=")
  (data (i32.const 52) "#weft-bench exec_ns=")
  (global $t_init (mut i64) (i64.const 0))
  (global $t_start (mut i64) (i64.const 0))
  (global $started (mut i32) (i32.const 0))

  (func $now (result i64)
    (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 0)))
    (i64.load (i32.const 0)))

  ;; Writes the 20-byte label at `label` followed by decimal `v` and "\n".
  (func $report (param $label i32) (param $v i64)
    (local $p i32) (local $end i32)
    ;; digits are written backwards ending at 160, then the label before them
    (local.set $end (i32.const 160))
    (i32.store8 (local.get $end) (i32.const 10))
    (local.set $p (local.get $end))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $v) (i64.const 0))))
    (local.set $p (i32.sub (local.get $p) (i32.const 20)))
    (memory.copy (local.get $p) (local.get $label) (i32.const 20))
    (i32.store (i32.const 16) (local.get $p))
    (i32.store (i32.const 20) (i32.sub (i32.add (local.get $end) (i32.const 1)) (local.get $p)))
    (drop (call $fd_write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 24))))

  (func $init (global.set $t_init (call $now)))
  (start $init)

  (func (export "start")
    (local $t i64)
    (local.set $t (call $now))
    (if (i32.eqz (global.get $started))
      (then
        (global.set $started (i32.const 1))
        (call $report (i32.const 32) (i64.sub (local.get $t) (global.get $t_init)))))
    ;; read the clock again so the report itself is not measured
    (global.set $t_start (call $now)))

  (func (export "end")
    (local $t i64)
    (local.set $t (call $now))
    (call $report (i32.const 52) (i64.sub (local.get $t) (global.get $t_start)))))
