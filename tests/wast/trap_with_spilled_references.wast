;; A trap in a continuation while its resumer waits with a managed
;; reference spilled for the collector (the resumer's record publishes the
;; spill slot and its count), then collections while the resumer waits in
;; a `resume` with nothing to spill: the store stays usable and the
;; collections run with the waiting records as they are. 3,000,000
;; allocations of 16 bytes or more fill the 4 MiB first semispace many
;; times over.
(module
  (type $s (struct (field i32)))
  (type $f (func))
  (type $c (cont $f))
  (func $trapper (unreachable))
  (func $alloc_loop
    (local $i i32)
    (local $keep (ref null $s))
    (loop $l
      (local.set $keep (struct.new $s (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 3000000)))))
  (elem declare func $trapper $alloc_loop)
  (func (export "trap_while_holding") (result i32)
    (local $obj (ref null $s))
    (local.set $obj (struct.new $s (i32.const 7)))
    (resume $c (cont.new $c (ref.func $trapper)))
    (struct.get $s 0 (local.get $obj)))
  (func (export "collect_while_waiting") (result i32)
    (resume $c (cont.new $c (ref.func $alloc_loop)))
    (i32.const 1)))
(assert_trap (invoke "trap_while_holding") "unreachable")
(assert_return (invoke "collect_while_waiting") (i32.const 1))
(assert_trap (invoke "trap_while_holding") "unreachable")
(assert_return (invoke "collect_while_waiting") (i32.const 1))
