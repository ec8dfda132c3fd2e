;; Baseline for round_robin.wat: the same tasks and work as a hand-written
;; state machine, no continuations.
;;
;; Each task is 8 bytes of linear memory: its state x and its resume point
;; pc (0: next turn is step A, 1: step B). `$step` is what a compiler
;; would make of round_robin.wat's $task: dispatch on pc, do the step,
;; store the state and the next pc, return the yielded value. The
;; scheduler calls it for every task in turn, `rounds` times over, and
;; returns the same checksum as round_robin.wat's `run(tasks, rounds)`.
(module
  (memory 0)

  (func $step (param $id i32) (result i32)
    (local $p i32)
    (local $x i32)
    (local.set $p (i32.shl (local.get $id) (i32.const 3)))
    (local.set $x (i32.load (local.get $p)))
    (block $b
      (block $a
        (br_table $a $b (i32.load offset=4 (local.get $p))))
      ;; step A
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245))
                             (local.get $id)))
      (i32.store (local.get $p) (local.get $x))
      (i32.store offset=4 (local.get $p) (i32.const 1))
      (return (local.get $x)))
    ;; step B
    (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 7))))
    (i32.store (local.get $p) (local.get $x))
    (i32.store offset=4 (local.get $p) (i32.const 0))
    (local.get $x))

  (func (export "run") (param $tasks i32) (param $rounds i32) (result i64)
    (local $i i32)
    (local $sum i64)
    (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.shl (local.get $tasks) (i32.const 3))
                                                   (i32.const 65535))
                                          (i32.const 16)))
                (i32.const -1))
      (then (unreachable)))
    ;; Create every task (x = id, pc = A) and run its first turn.
    (block $started
      (loop $start
        (br_if $started (i32.ge_u (local.get $i) (local.get $tasks)))
        (i32.store (i32.shl (local.get $i) (i32.const 3)) (local.get $i))
        (i32.store offset=4 (i32.shl (local.get $i) (i32.const 3)) (i32.const 0))
        (local.set $sum (i64.add (local.get $sum)
                                 (i64.extend_i32_u (call $step (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $start)))
    (block $finished
      (loop $round
        (br_if $finished (i32.le_s (local.get $rounds) (i32.const 1)))
        (local.set $i (i32.const 0))
        (block $round_done
          (loop $turn
            (br_if $round_done (i32.ge_u (local.get $i) (local.get $tasks)))
            (local.set $sum (i64.add (local.get $sum)
                                     (i64.extend_i32_u (call $step (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $turn)))
        (local.set $rounds (i32.sub (local.get $rounds) (i32.const 1)))
        (br $round)))
    (local.get $sum))
)
