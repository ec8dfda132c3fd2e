;; Generator: one suspend/resume round trip per value.
;;
;; `run(n)` creates one generator continuation that yields 0, 1, ..., n-1
;; (`suspend $yield` with an i64 payload) and a consumer loop that resumes
;; it once per value and adds the values up. Returns the sum, which is
;; n*(n-1)/2 (mod 2^64); the continuation returns after the last value.
;; Cost per value: one resume + one suspend (+ a few adds), so
;; (time(n2) - time(n1)) / (n2 - n1) is the round-trip time.
(module
  (type $gen_ft (func (param i64)))          ;; the generator, given n
  (type $gen_ct (cont $gen_ft))
  (type $rest_ft (func))                     ;; a suspended generator
  (type $rest_ct (cont $rest_ft))
  (tag $yield (param i64))

  (func $gen (param $n i64)
    (local $i i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (suspend $yield (local.get $i))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next))))
  (elem declare func $gen)

  (func (export "run") (param $n i64) (result i64)
    (local $k (ref null $rest_ct))
    (local $sum i64)
    ;; First resume passes n; the generator either yields or returns.
    (block $on_first (result i64 (ref $rest_ct))
      (resume $gen_ct (on $yield $on_first)
        (local.get $n) (cont.new $gen_ct (ref.func $gen)))
      (return (i64.const 0)))
    (local.set $k)
    (local.set $sum)
    (loop $more
      (block $on_yield (result i64 (ref $rest_ct))
        (resume $rest_ct (on $yield $on_yield) (local.get $k))
        (return (local.get $sum)))
      (local.set $k)
      (local.set $sum (i64.add (local.get $sum)))
      (br $more))
    (unreachable))
)
