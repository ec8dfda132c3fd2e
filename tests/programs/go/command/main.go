// A Go command module: arguments, environment, files, goroutines, maps,
// sorting, JSON and an exit status.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

func main() {
	fmt.Println("args:", strings.Join(os.Args[1:], ","))
	fmt.Println("env:", os.Getenv("WEFT_TEST_VAR"))

	var wg sync.WaitGroup
	results := make([]int, 16)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := 0
			for j := 0; j <= i*1000; j++ {
				s += j
			}
			results[i] = s
		}(i)
	}
	wg.Wait()
	sort.Sort(sort.Reverse(sort.IntSlice(results)))
	fmt.Println("max:", results[0])

	m := map[string]int{}
	for i := 0; i < 10000; i++ {
		m[fmt.Sprintf("k%d", i%97)] += i
	}
	b, _ := json.Marshal(map[string]int{"k0": m["k0"], "k96": m["k96"]})
	fmt.Println("json:", string(b))

	if dir := os.Getenv("WEFT_TEST_DIR"); dir != "" {
		p := dir + "/go-out.txt"
		if err := os.WriteFile(p, []byte("written by go\n"), 0o644); err != nil {
			fmt.Println("write error:", err)
			os.Exit(2)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			fmt.Println("read error:", err)
			os.Exit(2)
		}
		fmt.Print("file: ", string(data))
	}
	os.Exit(7)
}
