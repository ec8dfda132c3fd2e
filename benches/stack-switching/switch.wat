;; Symmetric switching: two tasks hand a counter to each other.
;;
;; `run(n)` starts task A with n and a fresh task B; each task adds the
;; value it receives to a global i64 sum and, unless the value is 0,
;; `switch`es to the other task with the value minus one (the other task
;; receives it, and the continuation of the task that switched). The task
;; that receives 0 returns the sum, n + (n-1) + ... + 1 + 0 = n(n+1)/2.
;; Cost per value: one `switch` (+ a few adds), so
;; (time(n2) - time(n1)) / (n2 - n1) is the time of one switch.
(module
  (rec
    (type $ft (func (param i64 (ref null $ct)) (result i64)))
    (type $ct (cont $ft)))
  (tag $swap (result i64))
  (global $sum (mut i64) (i64.const 0))
  (func $task (type $ft) (param $n i64) (param $next (ref null $ct)) (result i64)
    (loop $l
      (global.set $sum (i64.add (global.get $sum) (local.get $n)))
      (if (i64.eqz (local.get $n)) (then (return (global.get $sum))))
      (switch $ct $swap (i64.sub (local.get $n) (i64.const 1)) (local.get $next))
      (local.set $next)
      (local.set $n)
      (br $l))
    (unreachable))
  (elem declare func $task)
  (func (export "run") (param $n i64) (result i64)
    (resume $ct (on $swap switch)
      (local.get $n) (cont.new $ct (ref.func $task)) (cont.new $ct (ref.func $task))))
)
