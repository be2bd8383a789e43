// go_bench.go - the Go peer of corio's benchmarks (bench/corio_*.c).
//
// usage: go_bench <workload> [N] [S]
//   yield     two goroutines ping-ponging with runtime.Gosched()   (ns per Gosched)
//   spawn     go func(){ wg.Done() }() + wg.Wait(), one at a time   (ns per spawn+join)
//   sleepers  N goroutines in time.Sleep(S), joined with a WaitGroup
//   sleepers_held  the same, but each goroutine first waits for a start
//             signal given after the last is spawned, so that all N are
//             alive at once, as asyncio's and corio's tasks are (they do
//             not start before the spawning task waits); in the plain
//             variant Go's preemption runs the first goroutines during the
//             spawn and they finish before the last are created
//   timers    N time.AfterFunc with delays spread over [0, S)      (CPU ns per timer)
//   queue     producer/consumer over an unbuffered channel         (ns per message)
// GOMAXPROCS is taken from the environment (run.sh states what it sets).
// Prints one line in the format of bench/bench.h.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func usage() (maxrss, minflt int64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss, ru.Minflt
}

func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func head(name string, n int64, nsPerOp float64, wall float64) string {
	rss, flt := usage()
	return fmt.Sprintf("name=%s impl=go n=%d ns_per_op=%.2f wall_s=%.4f maxrss_kb=%d minflt=%d gomaxprocs=%d",
		name, n, nsPerOp, wall, rss, flt, runtime.GOMAXPROCS(0))
}

func yieldPingPong(n int64) {
	run := func(k int64) time.Duration {
		var wg sync.WaitGroup
		wg.Add(2)
		t0 := time.Now()
		for j := 0; j < 2; j++ {
			go func() {
				for i := int64(0); i < k; i++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		return time.Since(t0)
	}
	run(10000)
	d := run(n)
	fmt.Println(head("yield", n, float64(d.Nanoseconds())/float64(2*n), d.Seconds()) + fmt.Sprintf(" yields=%d", 2*n))
}

func spawnJoin(n int64) {
	var wg sync.WaitGroup
	for i := 0; i < 10000; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	d := time.Since(t0)
	fmt.Println(head("spawn_join", n, float64(d.Nanoseconds())/float64(n), d.Seconds()))
}

func sleepers(n int64, s float64, held bool) {
	rss0, flt0 := usage()
	var wg sync.WaitGroup
	dur := time.Duration(s * 1e9)
	start := make(chan struct{})
	t0 := time.Now()
	wg.Add(int(n))
	for i := int64(0); i < n; i++ {
		go func() {
			if held {
				<-start
			}
			time.Sleep(dur)
			wg.Done()
		}()
	}
	t1 := time.Now()
	close(start)
	wg.Wait()
	d := time.Since(t0)
	rss, flt := usage()
	fmt.Println(head("sleepers", n, float64(d.Nanoseconds())/float64(n), d.Seconds()) +
		fmt.Sprintf(" sleep_s=%.3f overhead_s=%.4f spawn_s=%.4f rss_per_task_b=%.0f minflt_per_task=%.3f held=%v",
			s, d.Seconds()-s, t1.Sub(t0).Seconds(), float64(rss-rss0)*1024/float64(n), float64(flt-flt0)/float64(n), held))
}

func timers(n int64, s float64) {
	var wg sync.WaitGroup
	wg.Add(int(n))
	f := func() { wg.Done() }
	c0 := cpuNs()
	t0 := time.Now()
	for i := int64(0); i < n; i++ {
		frac := float64((uint64(i)*2654435761)&0xffffffff) / 4294967296.0
		time.AfterFunc(time.Duration(frac*s*1e9), f)
	}
	t1 := time.Now()
	wg.Wait()
	c1 := cpuNs()
	d := time.Since(t0)
	fmt.Println(head("timers", n, float64(c1-c0)/float64(n), d.Seconds()) +
		fmt.Sprintf(" spread_s=%.3f schedule_s=%.4f cpu_s=%.4f", s, t1.Sub(t0).Seconds(), float64(c1-c0)/1e9))
}

func queue(n int64) {
	run := func(k int64) time.Duration {
		ch := make(chan int64)
		done := make(chan int64)
		t0 := time.Now()
		go func() {
			var sum int64
			for i := int64(0); i < k; i++ {
				sum += <-ch
			}
			done <- sum
		}()
		go func() {
			for i := int64(0); i < k; i++ {
				ch <- i + 1
			}
		}()
		if sum := <-done; sum != k*(k+1)/2 {
			panic("bad sum")
		}
		return time.Since(t0)
	}
	run(10000)
	d := run(n)
	fmt.Println(head("queue", n, float64(d.Nanoseconds())/float64(n), d.Seconds()) + " chan=unbuffered")
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go_bench yield|spawn|sleepers|sleepers_held|timers|queue [N] [S]")
		os.Exit(2)
	}
	n := int64(1000000)
	if len(os.Args) > 2 {
		f, err := strconv.ParseFloat(os.Args[2], 64)
		if err == nil && f >= 1 {
			n = int64(f)
		}
	}
	s := 1.0
	if len(os.Args) > 3 {
		if f, err := strconv.ParseFloat(os.Args[3], 64); err == nil {
			s = f
		}
	}
	switch os.Args[1] {
	case "yield":
		yieldPingPong(n)
	case "spawn":
		spawnJoin(n)
	case "sleepers":
		sleepers(n, s, false)
	case "sleepers_held":
		sleepers(n, s, true)
	case "timers":
		timers(n, s)
	case "queue":
		queue(n)
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", os.Args[1])
		os.Exit(2)
	}
}
