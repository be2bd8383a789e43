"""report.py - turn bench/out/{raw,profile,meta}.txt into bench/out/results.md.

usage: python3 bench/report.py bench/out > bench/out/results.md

raw.txt holds one line per measurement, `rep=<r> name=<w> impl=<i> key=value ...`
as printed by the programs (bench/bench.h); profile.txt the callgrind and
strace lines of run.sh.  Every number in the tables is the median over the
repetitions; "+-x%" is half the spread between the fastest and the slowest
repetition, relative to the median.
"""
import os
import statistics
import sys


def parse_kv(line):
    d = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            d[k] = v
    return d


def load(out):
    runs = {}
    with open(os.path.join(out, "raw.txt")) as f:
        for line in f:
            d = parse_kv(line)
            if "name" in d and "impl" in d:
                runs.setdefault((d["name"], d["impl"]), []).append(d)
    prof = {}
    p = os.path.join(out, "profile.txt")
    if os.path.exists(p):
        with open(p) as f:
            for line in f:
                d = parse_kv(line)
                if "kind" in d:
                    prof[(d["kind"], d["name"], d["impl"])] = float(d["per_op"])
    meta = {}
    with open(os.path.join(out, "meta.txt")) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return runs, prof, meta


RUNS, PROF, META = load(sys.argv[1] if len(sys.argv) > 1 else "bench/out")
IMPLS = ["corio", "go", "python", "boost"]


def values(name, impl, key):
    out = []
    for d in RUNS.get((name, impl), []):
        try:
            out.append(float(d[key]))
        except (KeyError, ValueError):
            pass
    return out


def med(name, impl, key):
    v = values(name, impl, key)
    return statistics.median(v) if v else None


def fmt_num(x, digits):
    if x is None:
        return "—"
    if abs(x) >= 1000 and digits == 0:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def cell(name, impl, key, digits=1, scale=1.0, spread=True):
    v = values(name, impl, key)
    if not v:
        return "—"
    m = statistics.median(v) * scale
    s = fmt_num(m, digits)
    if spread and len(v) > 1 and m:
        half = (max(v) - min(v)) * scale / 2 / m * 100
        s += f" ±{half:.0f}%"
    return s


def ratios(name, key, impls=("go", "python", "boost"), corio_name=None, peer_names=None, scale_note=""):
    """peer / corio for lower-is-better metrics: > 1 means corio is better."""
    c = med(corio_name or name, "corio", key)
    if not c:
        return "—"
    parts = []
    labels = {"go": "Go", "python": "Py", "boost": "Boost"}
    for i in impls:
        pn = (peer_names or {}).get(i, name)
        p = med(pn, i, key)
        if p:
            parts.append(f"{labels[i]} {p / c:.2f}×")
    return ", ".join(parts) + scale_note if parts else "—"


rows = []


def row(label, name, key, digits=1, scale=1.0, extra=None, ratio=True):
    cells = [cell(name, i, key, digits, scale) for i in IMPLS]
    if extra:
        for idx, txt in extra.items():
            cells[idx] += txt
    r = ratios(name, key) if ratio else "—"
    rows.append([label] + cells + [r])


# ---- 1. context switch ------------------------------------------------------------
fib = med("switch_fiber", "boost", "ns_per_op")
row("switch, raw context (ns/switch)", "switch_raw", "ns_per_op", 2,
    extra={3: f" (fiber API: {fib:.2f})" if fib else ""})
row("yield ping-pong, 2 tasks (ns/yield)", "yield", "ns_per_op", 1)
# ---- 2. spawn + join --------------------------------------------------------------
row("spawn + join, empty task (ns/op)", "spawn_join", "ns_per_op", 1)
# ---- 3. sleepers ------------------------------------------------------------------
n_sleep = int(float(META.get("n_sleep", "0")))


def allcores(key, digits, scale=1.0):
    out = {}
    v = values("sleepers", "corio_16k", key)
    if v:
        out[0] = f" (16 KiB stacks: {fmt_num(statistics.median(v) * scale, digits)})"
    go = []
    v = values("sleepers", "go_allcores", key)
    if v:
        go.append(f"all cores: {fmt_num(statistics.median(v) * scale, digits)}")
    v = values("sleepers", "go_held", key)
    if v:
        go.append(f"all alive at once: {fmt_num(statistics.median(v) * scale, digits)}")
    if go:
        out[1] = " (" + "; ".join(go) + ")"
    return out or None


lab = f"{n_sleep:,} sleepers"
row(f"{lab}: wall, incl. 1 s sleep (s)", "sleepers", "wall_s", 2, extra=allcores("wall_s", 2))
row(f"{lab}: spawn phase (s)", "sleepers", "spawn_s", 2, extra=allcores("spawn_s", 2))
row(f"{lab}: peak RSS (MiB)", "sleepers", "maxrss_kb", 0, 1 / 1024, extra=allcores("maxrss_kb", 0, 1 / 1024))
row(f"{lab}: RSS per task (bytes)", "sleepers", "rss_per_task_b", 0, extra=allcores("rss_per_task_b", 0))
row(f"{lab}: minor faults per task", "sleepers", "minflt_per_task", 3, extra=allcores("minflt_per_task", 3))
pte = med("sleepers", "corio", "vmpte_kb")
# ---- 4. timers ----------------------------------------------------------------------
n_timers = int(float(META.get("n_timers", "0")))
spread = META.get("t_spread", "?")
row(f"{n_timers:,} timers over {spread} s: CPU per timer (ns)", "timers", "ns_per_op", 0)
row(f"{n_timers:,} timers over {spread} s: wall (s)", "timers", "wall_s", 2)
# ---- 5. queue -------------------------------------------------------------------------
row("queue ping-pong, maxsize 1 (ns/msg)", "queue", "ns_per_op", 1)

print("# corio benchmarks\n")
print(f"- date: {META.get('date')}; command: `{META.get('command')}`")
print(f"- host: {META.get('host')}")
print(f"- corio {META.get('corio')}, {META.get('cc')}, Release -O2; Go {META.get('go')}; "
      f"Python {META.get('python')} asyncio (default loop); Boost {META.get('boost')}")
print(f"- {META.get('reps')} interleaved repetitions (rep → workload → implementation, order rotated each rep); "
      "each cell is the median, ±x% is half the min–max spread")
print()
print("| workload | corio | Go | Python asyncio | Boost.Context | peer / corio (> 1: corio faster or smaller) |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()

# ---- targets ----------------------------------------------------------------------------
print("## Targets (issue)\n")
print("| target | measured | verdict |")
print("|---|---|---|")


def verdict(ok):
    return "—" if ok is None else ("met" if ok else "**not met**")


sw = med("switch_raw", "corio", "ns_per_op")
yl = med("yield", "corio", "ns_per_op")
sp = med("spawn_join", "corio", "ns_per_op")
spy = med("spawn_join", "python", "ns_per_op")
spg = med("spawn_join", "go", "ns_per_op")
rss = med("sleepers", "corio", "maxrss_kb")
wall = med("sleepers", "corio", "wall_s")
ovh = med("sleepers", "corio", "overhead_s")
print(f"| switch ≤ 10 ns | raw {fmt_num(sw, 2)} ns; through the scheduler (yield) {fmt_num(yl, 1)} ns "
      f"| raw: {verdict(sw is not None and sw <= 10)}; yield: {verdict(yl is not None and yl <= 10)} |")
print(f"| spawn + join ≤ 150 ns | {fmt_num(sp, 1)} ns | {verdict(sp is not None and sp <= 150)} |")
if n_sleep >= 1000000:
    print(f"| 1M sleeping tasks ≤ 6 GiB RSS | {fmt_num(rss / 1024 / 1024 if rss else None, 2)} GiB peak RSS"
          f"{f' (+ {pte / 1024 / 1024:.2f} GiB page tables, VmPTE)' if pte else ''} "
          f"| {verdict(rss is not None and rss <= 6 * 1024 * 1024)} |")
    print(f"| 1M sleeping tasks ≤ 2 s | {fmt_num(wall, 2)} s wall incl. the 1 s sleep ({fmt_num(ovh, 2)} s beyond it) "
          f"| {verdict(wall is not None and wall <= 2)} (beyond the sleep: {verdict(ovh is not None and ovh <= 2)}) |")
else:
    print(f"| 1M sleeping tasks ≤ 6 GiB, ≤ 2 s | quick run with {n_sleep:,} tasks only | — |")
print(f"| spawn + join ≥ 50× faster than asyncio | {fmt_num(spy / sp if sp and spy else None, 1)}× "
      f"| {verdict(sp is not None and spy is not None and spy / sp >= 50)} |")
print(f"| spawn + join no worse than 2× Go | corio / Go = {fmt_num(sp / spg if sp and spg else None, 2)} "
      f"| {verdict(sp is not None and spg is not None and sp / spg <= 2)} |")
print()

# ---- profiles ------------------------------------------------------------------------------
print("## Instructions and system calls per operation\n")
print("User-space instructions from `valgrind --tool=callgrind` (total Ir), system calls from `strace -f -c`, "
      "each at two run lengths N1 < N2: (count(N2) − count(N1)) / (ops(N2) − ops(N1)), so start-up and warm-up "
      "cancel out. Go is not run under Valgrind (unsupported runtime). Timers keep the full run's density "
      "(spread scaled with N); sleepers sleep 0.2 s.\n")
print("| workload | corio instr/op | Python instr/op | Boost instr/op | corio syscalls/op | Go syscalls/op | "
      "Python syscalls/op | Boost syscalls/op |")
print("|---|---|---|---|---|---|---|---|")
names = [("switch", "switch, raw"), ("yield", "yield"), ("spawn", "spawn + join"), ("sleepers", "sleeper task"),
         ("timers", "timer"), ("queue", "queue message")]


def pf(kind, name, impl, digits):
    v = PROF.get((kind, name, impl))
    return "—" if v is None else f"{v:.{digits}f}"


for key, label in names:
    print(f"| {label} | {pf('callgrind', key, 'corio', 1)} | {pf('callgrind', key, 'python', 0)} | "
          f"{pf('callgrind', key, 'boost', 1)} | {pf('strace', key, 'corio', 4)} | {pf('strace', key, 'go', 4)} | "
          f"{pf('strace', key, 'python', 4)} | {pf('strace', key, 'boost', 4)} |")
print()

print("## Settings\n")
print("- Go: `GOMAXPROCS=1` in every workload, so each implementation has one core (corio and asyncio are "
      "single-threaded); the sleepers are also run with Go's default (all cores) and with every goroutine "
      "alive at once (`go_bench sleepers_held`: each first waits for a start signal given after the last spawn, "
      "as asyncio's and corio's tasks do not start before the spawner waits; in the plain run Go's preemption "
      "runs the first goroutines during the spawn and they finish and give back their stacks before the last "
      "are created), both shown in parentheses. "
      "`GOGC` default (100).")
print("- switch: corio's `corio__ctx_switch` (src/switch_x86_64.S) vs Boost `jump_fcontext`, both ping-ponging "
      "between main and one context; per switch (one direction). Boost's `fiber::resume()` in parentheses.")
print("- yield: two tasks each giving up the CPU N times (corio_yield, runtime.Gosched, asyncio.sleep(0)); "
      "per yield, i.e. per hand-over.")
print("- spawn + join: one at a time from a main task; Go `go func(){wg.Done()}()` + `wg.Wait()`, Python "
      "`await asyncio.create_task(empty())`.")
print("- sleepers: N tasks each sleeping 1 s (corio_sleep, time.Sleep, asyncio.sleep), then all joined; RSS and "
      "faults per task are measured above the process's own baseline at the start of the workload; page tables "
      "(VmPTE) are not in RSS"
      + (f" (corio: {pte / 1024:.0f} MiB of page tables for {n_sleep:,} tasks)." if pte else "."))
print("- timers: N callbacks with delays spread over [0, S) by Knuth's multiplicative hash of the index "
      "(corio_call_later with a NULL handle, time.AfterFunc, loop.call_later); compared by CPU time "
      "(user + system) per timer, since the wall time includes waiting for the last deadline.")
print("- queue: producer and consumer tasks, N messages; corio_queue maxsize 1, asyncio.Queue(1), Go unbuffered "
      "channel (a rendezvous: no buffer slot).")
print("- Memory-heavy runs on this VM: the first touch of guest memory the host has not backed yet costs ~10 µs "
      "a page, later touches of recycled pages ~1-2 µs, so the first repetition that touches a new range (often the "
      "first 1M-sleeper run, corio's at 4 GiB most of all) is several times slower; the median drops it, the ± "
      "column shows it.")
print("- N per run: workloads measured per operation use a smaller N for slower implementations (each run lasts "
      "~0.1–1 s); sleepers and timers use the same N everywhere.")
