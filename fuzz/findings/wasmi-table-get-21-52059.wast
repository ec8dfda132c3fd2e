;; Hand-reduced from weft-fuzz --seed 21 --case 52059 (wasmi-21-52059.wast
;; is the shrunk case): `table.get` at index `table.size`, the index picked
;; by a `select` on `ref.is_null` of a null local, must trap; wasmi 2.0.0
;; returns instead (weft-fuzz --wasm on the module: "weft
;; Trapped(TableOutOfBounds), wasmi Returned([I32(1)])"). The same without
;; the select, or with the condition a parameter, traps in wasmi too.
;; `weft wast` and `wasmtime wast` pass this file.
(module
  (table 85 funcref)
  (func (export "f") (result i32) (local funcref)
    (drop (table.get 0 (select (table.size 0) (i32.const 0) (ref.is_null (local.get 0)))))
    (i32.const 1)))
(assert_trap (invoke "f") "out of bounds table access")
