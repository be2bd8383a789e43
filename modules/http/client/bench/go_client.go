// go_client URL N C - N GETs with C in flight through Go's net/http
// client (one Transport, MaxIdleConnsPerHost = C so connections are kept),
// for comparison with bench_client.  Built by run.sh when Go is installed.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	c, _ := strconv.Atoi(os.Args[3])
	tr := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c, DisableCompression: false}
	cl := &http.Client{Transport: tr}
	left := int64(n)
	var errors int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&left, -1) >= 0 {
				r, err := cl.Get(url)
				if err != nil {
					atomic.AddInt64(&errors, 1)
					continue
				}
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
			}
		}()
	}
	wg.Wait()
	dt := time.Since(t0).Seconds()
	fmt.Printf("go-net/http c=%d n=%d: %.3f s, %.0f req/s, %d errors\n", c, n, dt, float64(n)/dt, errors)
}
