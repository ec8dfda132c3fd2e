;; Custom descriptors: exactness in import matching (globals and tables),
;; beyond what the proposal's own files check.

(module $A
  (type $t (sub (struct)))
  (type $s (sub $t (struct)))
  (global (export "g") (ref null $t) (struct.new $s))
  (global (export "ge") (ref null (exact $t)) (struct.new $t))
  (global (export "mge") (mut (ref null (exact $t))) (ref.null none))
  (table (export "tab") 1 (ref null $t))
  (table (export "tabe") 1 (ref null (exact $t)))
)
(register "A")

;; An inexact global cannot stand in for an exact one...
(assert_unlinkable
  (module (type $t (sub (struct))) (import "A" "g" (global (ref null (exact $t)))))
  "incompatible import type")
;; ...an exact one can stand in for either (immutable globals are covariant)...
(module (type $t (sub (struct))) (import "A" "ge" (global (ref null (exact $t)))))
(module (type $t (sub (struct))) (import "A" "ge" (global (ref null $t))))
;; ...but a mutable global's type must be the same, exactness included.
(module (type $t (sub (struct))) (import "A" "mge" (global (mut (ref null (exact $t))))))
(assert_unlinkable
  (module (type $t (sub (struct))) (import "A" "mge" (global (mut (ref null $t)))))
  "incompatible import type")
;; Table element types must match exactly both ways.
(assert_unlinkable
  (module (type $t (sub (struct))) (import "A" "tab" (table 1 (ref null (exact $t)))))
  "incompatible import type")
(assert_unlinkable
  (module (type $t (sub (struct))) (import "A" "tabe" (table 1 (ref null $t))))
  "incompatible import type")
(module (type $t (sub (struct))) (import "A" "tabe" (table 1 (ref null (exact $t)))))

;; A struct whose descriptor was set by a global initializer, read back, and
;; casts with the right and a wrong descriptor.
(module
  (rec
    (type $obj (descriptor $vt) (struct (field i32)))
    (type $vt (describes $obj) (struct (field i32))))
  (global $d (ref (exact $vt)) (struct.new $vt (i32.const 5)))
  (global $o (ref $obj) (struct.new_desc $obj (i32.const 9) (global.get $d)))
  (func (export "desc-field") (result i32)
    (struct.get $vt 0 (ref.get_desc $obj (global.get $o))))
  (func (export "same-desc") (result i32)
    (ref.eq (ref.get_desc $obj (global.get $o)) (global.get $d)))
  (func (export "cast-right") (result i32)
    (struct.get $obj 0 (ref.cast_desc_eq (ref $obj) (global.get $o) (global.get $d))))
  (func (export "cast-wrong") (result i32)
    (struct.get $obj 0
      (ref.cast_desc_eq (ref $obj) (global.get $o) (struct.new $vt (i32.const 5)))))
  (func (export "new-null-desc") (result i32)
    (struct.get $obj 0 (struct.new_desc $obj (i32.const 1) (ref.null none))))
)
(assert_return (invoke "desc-field") (i32.const 5))
(assert_return (invoke "same-desc") (i32.const 1))
(assert_return (invoke "cast-right") (i32.const 9))
(assert_trap (invoke "cast-wrong") "descriptor cast failure")
(assert_trap (invoke "new-null-desc") "null descriptor reference")

;; A null descriptor in a constant expression traps at instantiation.
(assert_trap
  (module
    (rec
      (type $obj (descriptor $vt) (struct))
      (type $vt (describes $obj) (struct)))
    (global (ref null $obj) (struct.new_default_desc $obj (ref.null none))))
  "null descriptor reference")
