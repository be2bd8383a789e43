#!/usr/bin/env python3
"""bench/overload/report.py RAW META - the markdown table of bench/overload/run.sh.

RAW has one line per run (key=value pairs, see run.sh and flood.c); META the
run's settings.  SIGTERM and accept latencies are percentiles over all tries /
probes of all repetitions (a failure counts as infinite / as the probe
timeout); everything else is the median over the repetitions.
"""
import math
import statistics
import sys
from collections import defaultdict


def parse(path):
    rows = []
    with open(path) as f:
        for line in f:
            d = {}
            for tok in line.split():
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    d[k] = v
            if d:
                rows.append(d)
    return rows


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def ms(x):
    if x is None:
        return "—"
    if math.isinf(x):
        return "**fail**"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def num(x, fmt="{:,.0f}"):
    return "—" if x is None else fmt.format(x)


def spread(xs, fmt="{:,.0f}"):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "—"
    m = statistics.median(xs)
    if len(xs) == 1:
        return fmt.format(m)
    return f"{fmt.format(m)} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def main():
    rows = parse(sys.argv[1])
    meta = {}
    with open(sys.argv[2]) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    servers = ["echo_server", "echo_server_proto", "chat_server", "raw_epoll_fair", "raw_epoll"]
    backends = ["epoll", "io_uring"]

    sig = defaultdict(list)       # (server, backend) -> ms, inf for a failure
    unload = defaultdict(list)    # after_unload of the failures
    skipped = defaultdict(int)
    probes = defaultdict(list)
    ptimeouts = defaultdict(int)
    thr = defaultdict(list)       # MB/s echoed, or chat lines/s delivered
    kicks = defaultdict(list)
    for r in rows:
        key = (r.get("server"), r.get("backend"))
        if r.get("kind") in ("main", "sigterm"):
            if r.get("skipped"):
                skipped[key] += 1
                continue
            v = r.get("sigterm_ms")
            if v is not None:
                if v in ("fail", "early_exit"):
                    sig[key].append(math.inf)
                    unload[key].append(r.get("after_unload", "?"))
                else:
                    sig[key].append(float(v))
        if r.get("kind") == "main":
            if r.get("probe_ms") and r["probe_ms"] != "-":
                probes[key] += [float(x) for x in r["probe_ms"].split(",")]
            ptimeouts[key] += int(r.get("probe_timeouts", 0))
            if r.get("mode") == "chat":
                thr[key].append(float(r["rx_lines_per_s"]))
                kicks[key].append(float(r.get("closed", 0)))
            else:
                thr[key].append(float(r["rx_MBps"]))

    out = []
    out.append("## Overload: corio's example servers saturated by 200 clients (issue 14)\n")
    out.append(f"`{meta.get('command', '?')}`, {meta.get('date', '?')}, corio {meta.get('corio', '?')}; "
               f"{meta.get('host', '?')}; {meta.get('cc', '?')}.  Settings: {meta.get('settings', '?')}.\n")
    out.append("Targets (issue 14): SIGTERM exit within 100 ms p99, new client's first reply within 20 ms, "
               "10 ms timer fires within 20 ms.\n")
    out.append("| server | backend | SIGTERM→exit p50 / p99 (ms) | failed (exit after load off) | "
               "new client p50 / p99 (ms) | probes (timeouts) | throughput, median (min–max) | chat kicks |")
    out.append("|---|---|---|---|---|---|---|---|")
    for s in servers:
        for be in backends:
            k = (s, be)
            if not sig[k] and not probes[k] and not thr[k]:
                continue
            n = len(sig[k])
            nf = sum(1 for x in sig[k] if math.isinf(x))
            fails = f"{nf}/{n}"
            if nf:
                ex = sum(1 for u in unload[k] if u == "exited")
                fails += f" ({ex} exited)"
            if skipped[k]:
                fails += f", {skipped[k]} skipped"
            unit = "lines/s" if s == "chat_server" else "MB/s"
            out.append(
                f"| {s} | {be} | {ms(pct(sig[k], 0.5))} / {ms(pct(sig[k], 0.99))} | {fails} | "
                f"{ms(pct(probes[k], 0.5))} / {ms(pct(probes[k], 0.99))} | {len(probes[k])} ({ptimeouts[k]}) | "
                f"{spread(thr[k])} {unit} | {num(med(kicks[k])) if s == 'chat_server' else ''} |")

    out.append("")
    out.append("probe_server (bench/overload/probe_server.c, the same servers with a 10 ms sleeper inside), "
               "same load; medians over the repetitions (max: the worst run):\n")
    out.append("| server | backend | timer late p50 / p99 (ms) | timer late max (ms) | wake-ups / s | "
               "loop iterations / s | throughput (MB/s, chat lines/s) | failed runs |")
    out.append("|---|---|---|---|---|---|---|---|")
    pr = defaultdict(list)
    pload = defaultdict(list)
    pfail = defaultdict(int)
    for r in rows:
        key = (r.get("server"), r.get("backend"))
        if r.get("kind") == "probe":
            if r.get("failed") or r.get("window_s", "0") in ("0", "0.000"):
                pfail[key] += 1
            else:
                pr[key].append(r)
        elif r.get("kind") == "probe_load":
            pload[key].append(float(r["rx_lines_per_s"]) if r.get("mode") == "chat" else float(r["rx_MBps"]))
    for m in ["streams", "proto", "chat"]:
        for be in backends:
            k = (f"probe_{m}", be)
            rs = pr[k]
            if not rs and not pfail[k]:
                continue
            p50 = med([float(r["timer_late_p50_ms"]) for r in rs])
            p99 = med([float(r["timer_late_p99_ms"]) for r in rs])
            mx = max([float(r["timer_late_max_ms"]) for r in rs], default=None)
            wps = med([float(r["ticks"]) / float(r["window_s"]) for r in rs])
            ips = [float(r["iter_per_s"]) for r in rs]
            out.append(f"| {m} | {be} | {ms(p50)} / {ms(p99)} | {ms(mx)} | {num(wps, '{:.1f}')} | "
                       f"{spread(ips, '{:,.1f}')} | {spread(pload[k])} | {pfail[k]} |")
    out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
