;; Exports for `-W fuel` and `-W max-memory-size` (tests/run.rs).
(module
  (memory 1)
  (func (export "_initialize"))
  (func (export "spin") (loop $l br $l))
  ;; count(n) returns n after n loop iterations (8 fuel each).
  (func (export "count") (param $n i32) (result i32) (local $i i32)
    (block $done
      (loop $l
        local.get $i
        local.get $n
        i32.ge_u
        br_if $done
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $l))
    local.get $i)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))
