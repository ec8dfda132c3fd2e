// A -buildmode=c-shared reactor. `descend` calls the host, which calls
// `descend` again, several levels deep; every level grows the goroutine
// stack (so it is copied and moves), runs the GC and hands work to another
// goroutine. The host checks the results against a model of this code.
package main

import "runtime"

//go:wasmimport weft callback
func hostCallback(depth int32, acc int64) int64

var calls int64
var keep [][]byte

// grow recurses with a large frame so the goroutine stack must grow.
func grow(n int, x int64) int64 {
	var pad [512]byte
	pad[n%512] = byte(x)
	if n == 0 {
		return x
	}
	return grow(n-1, x) + int64(pad[n%512]&0) // keep pad alive, add 0
}

//go:wasmexport descend
func descend(depth int32, acc int64) int64 {
	calls++
	v := grow(200, acc)
	// Allocate garbage and keep a little, then collect.
	for i := 0; i < 64; i++ {
		b := make([]byte, 1024+i)
		b[0] = byte(i)
		if i%16 == 0 {
			keep = append(keep, b)
		}
	}
	if len(keep) > 256 {
		keep = keep[:0]
	}
	runtime.GC()
	// Switch goroutines: the result comes back through a channel.
	ch := make(chan int64)
	go func() { ch <- v*3 + int64(depth) }()
	v = <-ch
	if depth == 0 {
		return v
	}
	return hostCallback(depth-1, v) + 1
}

//go:wasmexport calls
func getCalls() int64 { return calls }

func main() {}
