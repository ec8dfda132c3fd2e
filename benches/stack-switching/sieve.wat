;; Prime sieve as a chain of coroutine filters.
;;
;; A source continuation yields 2, 3, 4, ... (`suspend $yield` with an i32).
;; `run(n)` pulls the first n primes: each number it receives is a prime
;; p; it then wraps the current chain in a new filter continuation for p
;; (`cont.bind` of p and the upstream continuation), so after k primes the
;; chain is source <- filter(2) <- filter(3) <- ... <- filter(p_k). A
;; filter resumes its upstream for the next number and yields it onward
;; unless p divides it: every number passes through the filters for the
;; primes below its smallest factor, one suspend/resume round trip per
;; filter. n = 2000 builds 2000 live filters (2001 continuations).
;; Returns the sum of the first n primes (as i64).
(module
  (type $src_ft (func))                      ;; a stream: yields forever
  (type $src_ct (cont $src_ft))
  (type $filter_ft (func (param i32 (ref $src_ct))))
  (type $filter_ct (cont $filter_ft))
  (tag $yield (param i32))

  (func $source
    (local $i i32)
    (local.set $i (i32.const 2))
    (loop $next
      (suspend $yield (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))

  (func $filter (param $p i32) (param $up (ref $src_ct))
    (local $x i32)
    (loop $next
      (block $on_yield (result i32 (ref $src_ct))
        (resume $src_ct (on $yield $on_yield) (local.get $up))
        (unreachable))                       ;; streams never end
      (local.set $up)
      (local.tee $x)
      (if (i32.rem_u (local.get $p))
        (then (suspend $yield (local.get $x))))
      (br $next)))
  (elem declare func $source $filter)

  (func (export "run") (param $n i32) (result i64)
    (local $chain (ref $src_ct))
    (local $p i32)
    (local $sum i64)
    (local.set $chain (cont.new $src_ct (ref.func $source)))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (block $on_yield (result i32 (ref $src_ct))
          (resume $src_ct (on $yield $on_yield) (local.get $chain))
          (unreachable))
        (local.set $chain)
        (local.set $p)
        (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u (local.get $p))))
        (local.set $chain
          (cont.bind $filter_ct $src_ct (local.get $p) (local.get $chain)
            (cont.new $filter_ct (ref.func $filter))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $sum))
)
