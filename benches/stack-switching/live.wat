;; Many live suspended continuations at once.
;;
;; `run(n)` creates n continuations of $task and resumes each once: the
;; task computes a value from its index, keeps it in a local, and
;; suspends (`suspend $park`). All n are then alive and suspended at the
;; same time, held in a table. A second pass resumes each to completion;
;; a task returns its kept value times 3 plus the value the scheduler
;; passes it on resume. Returns the sum of all returned values; the
;; script compares peak RSS of a large n with a small n for the memory
;; per live suspended continuation.
;;   task i keeps v = i*i + 1 (i64), is resumed with i, returns 3v + i.
(module
  (type $task_ft (func (param i64) (result i64)))
  (type $task_ct (cont $task_ft))
  (type $rest_ft (func (param i64) (result i64)))        ;; resumed with an i64
  (type $rest_ct (cont $rest_ft))
  (tag $park (result i64))
  (table $parked 0 (ref null $rest_ct))

  (func $task (param $i i64) (result i64)
    (local $v i64)
    (local.set $v (i64.add (i64.mul (local.get $i) (local.get $i)) (i64.const 1)))
    (i64.add (i64.mul (local.get $v) (i64.const 3)) (suspend $park)))
  (elem declare func $task)

  (func (export "run") (param $n i32) (result i64)
    (local $i i32)
    (local $sum i64)
    (local $k (ref null $rest_ct))
    (if (i32.eq (table.grow $parked (ref.null $rest_ct) (local.get $n)) (i32.const -1))
      (then (unreachable)))
    (block $all_parked
      (loop $create
        (br_if $all_parked (i32.ge_u (local.get $i) (local.get $n)))
        (block $on_park (result (ref $rest_ct))
          (resume $task_ct (on $park $on_park)
            (i64.extend_i32_u (local.get $i)) (cont.new $task_ct (ref.func $task)))
          (unreachable))                     ;; every task parks once
        (local.set $k)
        (table.set $parked (local.get $i) (local.get $k))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $create)))
    (local.set $i (i32.const 0))
    (block $all_done
      (loop $finish
        (br_if $all_done (i32.ge_u (local.get $i) (local.get $n)))
        (block $on_park (result (ref $rest_ct))
          (local.set $sum (i64.add (local.get $sum)
            (resume $rest_ct (on $park $on_park)
              (i64.extend_i32_u (local.get $i))
              (table.get $parked (local.get $i)))))
          (table.set $parked (local.get $i) (ref.null $rest_ct))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $finish))
        (unreachable)))                      ;; a task parked twice
    (local.get $sum))
)
