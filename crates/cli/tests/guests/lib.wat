;; A library module for `--preload lib=...`: exports `triple`.
(module
  (func (export "triple") (param i32) (result i32)
    (i32.mul (local.get 0) (i32.const 3))))
