;; A 10-ary tree of continuations, created and run to completion.
;;
;; `run(depth)` runs the root node (id 0) as a continuation. A node with
;; id i first yields i to its parent (`suspend $visit`), then, if its depth
;; is above 0, creates its 10 children (ids 10*i+1 .. 10*i+10) one after
;; the other as continuations and runs each to completion before creating
;; the next, and returns what its children reported: their visits plus
;; their return values. At most depth+1 continuations are alive at once
;; (one per level); the tree has (10^(depth+1) - 1) / 9 nodes, each its
;; own continuation: depth 6 is 1,111,111 continuations, at most 7 alive.
;; Returns the sum of all ids (mod 2^64).
(module
  (type $node_ft (func (param i32 i64) (result i64)))   ;; depth, id
  (type $node_ct (cont $node_ft))
  (type $rest_ft (func (result i64)))                   ;; a node after its visit
  (type $rest_ct (cont $rest_ft))
  (tag $visit (param i64))

  ;; Runs node (depth, id) as a new continuation to completion; returns
  ;; the sum of the visit payloads it yielded and its result.
  (func $spawn (param $depth i32) (param $id i64) (result i64)
    (local $k (ref null $rest_ct))
    (local $acc i64)
    (block $on_visit (result i64 (ref $rest_ct))
      (resume $node_ct (on $visit $on_visit)
        (local.get $depth) (local.get $id) (cont.new $node_ct (ref.func $node)))
      (return))
    (local.set $k)
    (local.set $acc)
    (loop $more
      (block $on_visit (result i64 (ref $rest_ct))
        (resume $rest_ct (on $visit $on_visit) (local.get $k))
        (return (i64.add (local.get $acc))))
      (local.set $k)
      (local.set $acc (i64.add (local.get $acc)))
      (br $more))
    (unreachable))

  (func $node (param $depth i32) (param $id i64) (result i64)
    (local $c i64)
    (local $end i64)
    (local $sum i64)
    (suspend $visit (local.get $id))
    (if (i32.eqz (local.get $depth)) (then (return (i64.const 0))))
    (local.set $c (i64.add (i64.mul (local.get $id) (i64.const 10)) (i64.const 1)))
    (local.set $end (i64.add (local.get $c) (i64.const 10)))
    (loop $child
      (local.set $sum
        (i64.add (local.get $sum)
          (call $spawn (i32.sub (local.get $depth) (i32.const 1)) (local.get $c))))
      (local.set $c (i64.add (local.get $c) (i64.const 1)))
      (br_if $child (i64.lt_u (local.get $c) (local.get $end))))
    (local.get $sum))
  (elem declare func $node)

  (func (export "run") (param $depth i32) (result i64)
    (call $spawn (local.get $depth) (i64.const 0)))
)
