;; Round-robin scheduling over many live continuations.
;;
;; `run(tasks, rounds)` creates `tasks` continuations of $task (each given
;; its index), keeps them in a table, and resumes them in turn, `rounds`
;; times over. Each turn does one small unit of work on the task's own
;; state, alternating between two steps (so a task has two resume points),
;; and yields the new state (`suspend $yield`). The scheduler adds every
;; yielded value to an i64 checksum and stores the continuation back.
;; Tasks never finish; they are dropped with the store.
;;
;;   step A: x = x * 1103515245 + id      (i32, wrapping)
;;   step B: x = x ^ (x >>u 7)
;;   x starts at id; turn 1 is step A, turn 2 step B, and so on.
;;
;; round_robin_state_machine.wat does the same work with no continuations
;; (state and resume point per task in linear memory); both return the
;; same checksum.
(module
  (type $task_ft (func (param i32)))
  (type $task_ct (cont $task_ft))
  (type $rest_ft (func))
  (type $rest_ct (cont $rest_ft))
  (tag $yield (param i32))
  (table $tasks 0 (ref null $rest_ct))

  (func $task (param $id i32)
    (local $x i32)
    (local.set $x (local.get $id))
    (loop $forever
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1103515245))
                             (local.get $id)))
      (suspend $yield (local.get $x))
      (local.set $x (i32.xor (local.get $x)
                             (i32.shr_u (local.get $x) (i32.const 7))))
      (suspend $yield (local.get $x))
      (br $forever)))
  (elem declare func $task)

  (func (export "run") (param $tasks i32) (param $rounds i32) (result i64)
    (local $i i32)
    (local $sum i64)
    (local $k (ref null $rest_ct))
    (drop (table.grow $tasks (ref.null $rest_ct) (local.get $tasks)))
    ;; Start every task: it runs up to its first yield (turn 1).
    (block $started
      (loop $start
        (br_if $started (i32.ge_u (local.get $i) (local.get $tasks)))
        (block $on_yield (result i32 (ref $rest_ct))
          (resume $task_ct (on $yield $on_yield)
            (local.get $i) (cont.new $task_ct (ref.func $task)))
          (unreachable))
        (local.set $k)
        (table.set $tasks (local.get $i) (local.get $k))
        (local.set $sum (i64.add (i64.extend_i32_u) (local.get $sum)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $start)))
    ;; Rounds 2..rounds.
    (block $finished
      (loop $round
        (br_if $finished (i32.le_s (local.get $rounds) (i32.const 1)))
        (local.set $i (i32.const 0))
        (block $round_done
          (loop $turn
            (br_if $round_done (i32.ge_u (local.get $i) (local.get $tasks)))
            (block $on_yield (result i32 (ref $rest_ct))
              (resume $rest_ct (on $yield $on_yield)
                (table.get $tasks (local.get $i)))
              (unreachable))
            (local.set $k)
        (table.set $tasks (local.get $i) (local.get $k))
            (local.set $sum (i64.add (i64.extend_i32_u) (local.get $sum)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $turn)))
        (local.set $rounds (i32.sub (local.get $rounds) (i32.const 1)))
        (br $round)))
    (local.get $sum))
)
