// pgx_bench: the pg_bench.c workloads with Go's pgx v4 (Debian's
// golang-github-jackc-pgx-v4-dev), one goroutine and one connection per
// unit of concurrency, rows scanned into Go values.  Built in GOPATH mode
// against /usr/share/gocode (bench/run.sh does it):
//   GO111MODULE=off GOPATH=/usr/share/gocode go build -o pgx_bench .
//   pgx_bench DSN WORKLOAD [--duration S] [--concurrency N]
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v4"
)

var queries = map[string]string{
	"pg_type": "select typname, typnamespace, typowner, typlen, typbyval, typcategory, typispreferred, " +
		"typisdefined, typdelim, typrelid, typelem, typarray from pg_type where typtypmod = $1 and typisdefined = $2",
	"generate_series": "SELECT i FROM generate_series(1, $1) AS i",
	"large_object":    "SELECT * FROM _bytes",
	"oneplusone":      "SELECT 1+1",
	"nopipeline":      "SELECT 1+1",
	"pipeline":        "SELECT 1+1",
	"batch":           "INSERT INTO _test (a, b, c, d, e, f, g) VALUES ($1, $2, $3, $4, $5, $6, $7)",
}

func args(w string) []interface{} {
	switch w {
	case "pg_type":
		return []interface{}{-1, true}
	case "generate_series":
		return []interface{}{1000}
	}
	return nil
}

// one runs the workload once; returns rows read and queries done.
func one(ctx context.Context, c *pgx.Conn, w string) (int, int, error) {
	q := queries[w]
	switch w {
	case "batch", "pipeline":
		b := &pgx.Batch{}
		n := 1000
		if w == "pipeline" {
			n = 100
		}
		for i := 0; i < n; i++ {
			if w == "batch" {
				b.Queue(q, 10, 11, 10, "TESTTESTTEST", 10.333, 12341234, "123412341234")
			} else {
				b.Queue(q)
			}
		}
		if w == "batch" {
			tx, err := c.Begin(ctx) // all rows or none, as executemany
			if err != nil {
				return 0, 0, err
			}
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				tx.Rollback(ctx)
				return 0, 0, err
			}
			return n, 1, tx.Commit(ctx)
		}
		br := c.SendBatch(ctx, b)
		for i := 0; i < n; i++ {
			var v int
			if err := br.QueryRow().Scan(&v); err != nil {
				return 0, 0, err
			}
		}
		return n, n, br.Close()
	}
	rows, err := c.Query(ctx, q, args(w)...)
	if err != nil {
		return 0, 0, err
	}
	n := 0
	for rows.Next() {
		if _, err := rows.Values(); err != nil {
			return 0, 0, err
		}
		n++
	}
	return n, 1, rows.Err()
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: pgx_bench DSN WORKLOAD [--duration S] [--concurrency N]")
		os.Exit(2)
	}
	dsn, w := os.Args[1], os.Args[2]
	duration, concurrency := 5.0, 10
	for i := 3; i+1 < len(os.Args); i += 2 {
		switch os.Args[i] {
		case "--duration":
			duration, _ = strconv.ParseFloat(os.Args[i+1], 64)
		case "--concurrency":
			concurrency, _ = strconv.Atoi(os.Args[i+1])
		}
	}
	if w == "pipeline" || w == "nopipeline" {
		concurrency = 1
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	switch w {
	case "large_object":
		admin.Exec(ctx, "DROP TABLE IF EXISTS _bytes")
		admin.Exec(ctx, "CREATE TABLE _bytes(b bytea)")
		admin.Exec(ctx, "INSERT INTO _bytes(b) (SELECT repeat('a', 1000)::bytea FROM generate_series(1, 100))")
	case "batch":
		admin.Exec(ctx, "DROP TABLE IF EXISTS _test")
		admin.Exec(ctx, "CREATE TABLE _test(a int, b int, c int, d text, e float, f int, g text)")
	}
	var mu sync.Mutex
	var lat []float64
	queriesDone, rowsDone := 0, 0
	end := time.Now().Add(time.Duration(duration * float64(time.Second)))
	var wg sync.WaitGroup
	cpu := func() float64 {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	}
	minflt := func() int64 {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return int64(ru.Minflt)
	}
	cpu0, flt0 := cpu(), minflt()
	start := time.Now()
	for i := 0; i < concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			defer c.Close(ctx)
			for time.Now().Before(end) {
				t0 := time.Now()
				r, q, err := one(ctx, c, w)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				dt := time.Since(t0).Seconds()
				mu.Lock()
				queriesDone += q
				rowsDone += r
				for k := 0; k < q; k++ {
					lat = append(lat, dt)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	cpuUsed, flt := cpu()-cpu0, minflt()-flt0
	switch w {
	case "large_object":
		admin.Exec(ctx, "DROP TABLE _bytes")
	case "batch":
		admin.Exec(ctx, "DROP TABLE _test")
	}
	admin.Close(ctx)
	sort.Float64s(lat)
	mean, p99 := 0.0, 0.0
	for _, v := range lat {
		mean += v
	}
	if len(lat) > 0 {
		mean /= float64(len(lat))
		p99 = lat[int(float64(len(lat)-1)*0.99)]
	}
	out, _ := json.Marshal(map[string]interface{}{"driver": "pgx", "workload": w, "concurrency": concurrency,
		"queries": queriesDone, "rows": rowsDone, "seconds": secs, "qps": float64(queriesDone) / secs,
		"rows_per_s": float64(rowsDone) / secs, "mean_ms": mean * 1e3, "p99_ms": p99 * 1e3,
		"cpu_us_per_query": cpuUsed * 1e6 / float64(queriesDone),
		"minflt_per_query": float64(flt) / float64(queriesDone)})
	fmt.Println(string(out))
}
