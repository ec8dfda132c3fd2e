;; A command whose _start throws an exception nothing catches.
(module
  (tag $t (param i32))
  (func $thrower (throw $t (i32.const 3)))
  (func (export "_start") (call $thrower)))
