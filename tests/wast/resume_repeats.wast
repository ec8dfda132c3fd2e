;; A `resume` given the reference that the last fast suspension to the same
;; site handed over skips the checks of the continuation's innermost
;; record, bound values, handler table and buffer, and a `suspend` site
;; that was the last to suspend the running record, with no call since,
;; skips the checks of its receive buffer and type (weft's
;; `inline_resume` and `inline_suspend`, docs/ARCHITECTURE.md section 5b).
;; These programs resume continuations from one site, from two sites in
;; turn, after `cont.bind`, after a `switch`, with arguments, with stale
;; copies, and suspend from one site with calls that suspend elsewhere in
;; between: each result tells whether every value reached the right
;; buffer.

(module
  (type $f (func))
  (type $c (cont $f))
  (type $fi (func (param i32)))
  (type $ci (cont $fi))
  (type $af (func (param i32) (result i32)))
  (type $ac (cont $af))
  (type $fk (func (param (ref null $c))))
  (type $rf64 (func (param i64) (result i32)))
  (type $rc64 (cont $rf64))
  (type $ck (cont $fk))
  (tag $y (param i32))
  (tag $other (param i32))
  (tag $ask (param i32) (result i32))
  (tag $sw)
  (tag $ask64 (param i32) (result i64))
  (rec
    (type $pf (func (param (ref null $pc))))   ;; takes its partner
    (type $pc (cont $pf)))
  (tag $swp)
  (global $acc (mut i32) (i32.const 0))

  ;; Yields 1, 2, 3, ... forever.
  (func $counter
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (suspend $y (local.get $i))
      (br $l)))

  ;; Yields start, start + 1, ... forever.
  (func $counter_from (param $i i32)
    (loop $l
      (suspend $y (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))

  ;; x = ask(x) until x >= 100; returns x.
  (func $asker (param $x i32) (result i32)
    (loop $l
      (local.set $x (suspend $ask (local.get $x)))
      (br_if $l (i32.lt_u (local.get $x) (i32.const 100))))
    (local.get $x))

  ;; A counter started by `switch` (given the switcher's continuation,
  ;; which it drops).
  (func $counter_k (param (ref null $c))
    (call $counter))

  ;; Yields 1000, then switches to a fresh counter (which takes its place
  ;; under the resumer and yields 1, 2, ...).
  (func $switcher
    (suspend $y (i32.const 1000))
    (switch $ck $sw (cont.new $ck (ref.func $counter_k)))
    (unreachable))

  ;; Suspends at one site (receiving an i32) six times; after every odd
  ;; one a callee suspends at another site, receiving an i64. Returns the
  ;; sum of everything received.
  (func $mixed (param $x i32) (result i32)
    (local $acc i32)
    (local $n i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (suspend $ask (local.get $n))))
      (if (i32.and (local.get $n) (i32.const 1))
        (then
          (local.set $acc
            (i32.add (local.get $acc) (i32.wrap_i64 (call $helper (local.get $n)))))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 6))))
    (local.get $acc))

  (func $helper (param i32) (result i64)
    (suspend $ask64 (local.get 0)))

  ;; Suspends at one site four times, receiving an i32, and between two of
  ;; them switches to its partner, which switches straight back (the
  ;; switch makes its own buffer the record's receive buffer). Leaves the
  ;; sum received in $acc.
  (func $ping (type $pf) (param $other (ref null $pc))
    (local $sum i32)
    (local $n i32)
    (loop $l
      (local.set $sum (i32.add (local.get $sum) (suspend $ask (local.get $n))))
      (local.set $other (switch $pc $swp (local.get $other)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 4))))
    (global.set $acc (local.get $sum)))

  (func $pong (type $pf) (param $other (ref null $pc))
    (loop $l
      (local.set $other (switch $pc $swp (local.get $other)))
      (br $l)))

  (elem declare func $counter $counter_from $asker $counter_k $switcher $mixed $ping $pong)

  ;; One site, one continuation: 1 + 2 + ... + 10.
  (func (export "one_site") (result i32)
    (local $k (ref null $c))
    (local $sum i32)
    (local $n i32)
    (local.set $k (cont.new $c (ref.func $counter)))
    (loop $l
      (block $h (result i32 (ref $c))
        (resume $c (on $y $h) (local.get $k))
        (unreachable))
      (local.set $k)
      (local.set $sum (i32.add (local.get $sum)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 10))))
    (local.get $sum))

  ;; Two sites, both handling $y first, resume the same continuation in
  ;; turn: A adds what it receives, B adds 100 times it. Each site's last
  ;; reference is stale by the time it resumes again, so each resume must
  ;; put its own table and buffer back: A gets 1, 3, 5, 7, 9 and B 2, 4,
  ;; 6, 8, 10.
  (func (export "two_sites") (result i32)
    (local $k (ref null $c))
    (local $v i32)
    (local $sum i32)
    (local $n i32)
    (local.set $k (cont.new $c (ref.func $counter)))
    (loop $l
      (block $a (result i32 (ref $c))
        (resume $c (on $y $a) (local.get $k))
        (unreachable))
      (local.set $k)
      (local.set $sum (i32.add (local.get $sum)))
      (block $b (result i32 (ref $c))
        (block $o (result i32 (ref $c))
          (resume $c (on $y $b) (on $other $o) (local.get $k))
          (unreachable))
        (unreachable))
      (local.set $k)
      (local.set $v)
      (local.set $sum (i32.add (local.get $sum) (i32.mul (local.get $v) (i32.const 100))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 5))))
    (local.get $sum))

  ;; One site alternates between two continuations (each reference is
  ;; new to the site when it comes back): counters from 1 and from 50,
  ;; four values each: (1 + 2 + 3 + 4) + (50 + 51 + 52 + 53).
  (func (export "two_continuations") (result i32)
    (local $k1 (ref null $c))
    (local $k2 (ref null $c))
    (local $t (ref null $c))
    (local $sum i32)
    (local $n i32)
    (local.set $k1 (cont.new $c (ref.func $counter)))
    (local.set $k2 (cont.bind $ci $c (i32.const 50) (cont.new $ci (ref.func $counter_from))))
    (loop $l
      (block $h (result i32 (ref $c))
        (resume $c (on $y $h) (local.get $k1))
        (unreachable))
      (local.set $t)
      (local.set $sum (i32.add (local.get $sum)))
      ;; swap: the next turn resumes the other one
      (local.set $k1 (local.get $k2))
      (local.set $k2 (local.get $t))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 8))))
    (local.get $sum))

  ;; The reference a site received, bound by `cont.bind` to a value it
  ;; takes, comes back to the same site as a new reference: a counter
  ;; from 7 is created fresh at every turn, bound, resumed once here.
  (func (export "bound_at_the_site") (result i32)
    (local $k (ref null $c))
    (local $sum i32)
    (local $n i32)
    (loop $l
      (local.set $k
        (cont.bind $ci $c (i32.add (i32.const 7) (local.get $n))
          (cont.new $ci (ref.func $counter_from))))
      (block $h (result i32 (ref $c))
        (resume $c (on $y $h) (local.get $k))
        (unreachable))
      (drop)
      (local.set $sum (i32.add (local.get $sum)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 3))))
    ;; 7 + 8 + 9
    (local.get $sum))

  ;; Arguments on the repeated path: 1, 2, 4, ..., 64 asked (7 rounds),
  ;; 128 returned: 7 * 1000 + 128.
  (func (export "ask_loop") (result i32)
    (local $k (ref null $ac))
    (local $v i32)
    (local $rounds i32)
    (local.set $k (cont.new $ac (ref.func $asker)))
    (local.set $v (i32.const 1))
    (loop $l
      (block $h (result i32 (ref $ac))
        (resume $ac (on $ask $h) (local.get $v) (local.get $k))
        (return (i32.add (i32.mul (local.get $rounds) (i32.const 1000)))))
      (local.set $k)
      (local.set $v (i32.mul (i32.const 2)))
      (local.set $rounds (i32.add (local.get $rounds) (i32.const 1)))
      (br $l))
    (unreachable))

  ;; A `switch` puts another continuation under the site: 1000, then the
  ;; counter's 1, 2, 3 (the site's table and buffer reach it through the
  ;; switch).
  (func (export "after_a_switch") (result i32)
    (local $k (ref null $c))
    (local $sum i32)
    (local $n i32)
    (local.set $k (cont.new $c (ref.func $switcher)))
    (loop $l
      (block $h (result i32 (ref $c))
        (resume $c (on $y $h) (on $sw switch) (local.get $k))
        (unreachable))
      (local.set $k)
      (local.set $sum (i32.add (local.get $sum)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 4))))
    (local.get $sum))

  ;; Answers $mixed: n * 10 for each $ask, n * 1000 for each $ask64:
  ;; (0 + 10 + ... + 50) + (1000 + 3000 + 5000).
  (func (export "mixed_sites") (result i32)
    (local $k (ref null $ac))
    (local $k64 (ref null $rc64))
    (local $v i32)
    (local $p i32)
    (local.set $k (cont.new $ac (ref.func $mixed)))
    (loop $l
      (block $h2 (result i32 (ref $rc64))
        (block $h1 (result i32 (ref $ac))
          (resume $ac (on $ask $h1) (on $ask64 $h2) (local.get $v) (local.get $k))
          (return))
        (local.set $k)
        (local.set $v (i32.mul (i32.const 10)))
        (br $l))
      (local.set $k64)
      (local.set $p)
      (block $h2b (result i32 (ref $rc64))
        (block $h1b (result i32 (ref $ac))
          (resume $rc64 (on $ask $h1b) (on $ask64 $h2b)
            (i64.extend_i32_u (i32.mul (local.get $p) (i32.const 1000)))
            (local.get $k64))
          (return))
        (local.set $k)
        (local.set $v (i32.mul (i32.const 10)))
        (br $l))
      (unreachable))
    (unreachable))

  ;; Answers $ping's suspensions with n * 10: 0 + 10 + 20 + 30.
  (func (export "suspend_and_switch") (result i32)
    (local $k (ref null $ci))
    (local $v i32)
    (local $partner (ref null $pc))
    (global.set $acc (i32.const -1))
    (local.set $partner (cont.new $pc (ref.func $pong)))
    (block $done
      (block $h (result i32 (ref $ci))
        (resume $pc (on $ask $h) (on $swp switch)
          (local.get $partner) (cont.new $pc (ref.func $ping)))
        (br $done))
      (loop $l (param i32 (ref $ci))
        (local.set $k)
        (local.set $v (i32.mul (i32.const 10)))
        (block $h2 (result i32 (ref $ci))
          (resume $ci (on $ask $h2) (on $swp switch) (local.get $v) (local.get $k))
          (br $done))
        (br $l)))
    (global.get $acc))

  ;; A copy of a reference the site received, kept while the site resumes
  ;; the continuation twice more, then resumed at the same site: consumed.
  (func (export "stale_copy_same_site") (result i32)
    (local $k (ref null $c))
    (local $old (ref null $c))
    (local $n i32)
    (local.set $k (cont.new $c (ref.func $counter)))
    (loop $l
      (block $h (result i32 (ref $c))
        (resume $c (on $y $h) (local.get $k))
        (unreachable))
      (local.set $k)
      (drop)
      (if (i32.eqz (local.get $n)) (then (local.set $old (local.get $k))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (if (i32.eq (local.get $n) (i32.const 3)) (then (local.set $k (local.get $old))))
      (br $l))
    (unreachable))

  ;; The site's last reference, consumed by another site (which the
  ;; continuation then suspends to), resumed at the first site again:
  ;; consumed, although it is the very value the first site last received.
  (func (export "stale_after_another_site") (result i32)
    (local $k (ref null $c))
    (local $old (ref null $c))
    (local.set $k (cont.new $c (ref.func $counter)))
    (block $a (result i32 (ref $c))
      (resume $c (on $y $a) (local.get $k))
      (unreachable))
    (local.set $old)
    (drop)
    (block $b (result i32 (ref $c))
      (resume $c (on $y $b) (local.get $old))
      (unreachable))
    (drop)
    (drop)
    ;; back to the first site's code shape, with the stale reference
    (block $a2 (result i32 (ref $c))
      (resume $c (on $y $a2) (local.get $old))
      (unreachable))
    (drop))
)

(assert_return (invoke "one_site") (i32.const 55))
(assert_return (invoke "two_sites") (i32.const 3025))
(assert_return (invoke "two_continuations") (i32.const 216))
(assert_return (invoke "bound_at_the_site") (i32.const 24))
(assert_return (invoke "ask_loop") (i32.const 7128))
(assert_return (invoke "after_a_switch") (i32.const 1006))
(assert_return (invoke "mixed_sites") (i32.const 9150))
(assert_return (invoke "suspend_and_switch") (i32.const 60))
(assert_trap (invoke "stale_copy_same_site") "continuation already consumed")
(assert_trap (invoke "stale_after_another_site") "continuation already consumed")
;; The instance keeps working after the traps.
(assert_return (invoke "one_site") (i32.const 55))
