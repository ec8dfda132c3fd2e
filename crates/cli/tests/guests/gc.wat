;; A GC program: a linked list of structs, summed; an i31 and an array.
(module
  (type $node (struct (field $v i32) (field $next (ref null $node))))
  (type $bytes (array (mut i8)))
  (func (export "sum") (param $n i32) (result i32)
    (local $head (ref null $node)) (local $s i32)
    (loop $build
      (if (local.get $n)
        (then
          (local.set $head (struct.new $node (local.get $n) (local.get $head)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $build))))
    (loop $walk
      (if (ref.is_null (local.get $head)) (then (return (local.get $s))))
      (local.set $s (i32.add (local.get $s) (struct.get $node $v (local.get $head))))
      (local.set $head (struct.get $node $next (local.get $head)))
      (br $walk))
    (local.get $s))
  (func (export "misc") (result i32)
    (i32.add
      (i31.get_s (ref.i31 (i32.const -2)))
      (array.len (array.new_default $bytes (i32.const 10))))))
