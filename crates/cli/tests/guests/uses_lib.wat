;; Imports `lib.triple` (provided by `--preload lib=lib.wat`).
(module
  (import "lib" "triple" (func $triple (param i32) (result i32)))
  (func (export "nine") (result i32) (call $triple (i32.const 3))))
