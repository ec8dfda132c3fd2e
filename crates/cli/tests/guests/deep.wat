;; `deep N` recurses N levels with a large frame (a 64-byte local block
;; spilled per level); needs several MiB of wasm stack for N = 50000.
(module
  (func $deep (export "deep") (param i32) (result i32)
    (local i64 i64 i64 i64 i64 i64 i64 i64)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else
        (i32.add
          (call $deep (i32.sub (local.get 0) (i32.const 1)))
          (i32.const 1))))))
