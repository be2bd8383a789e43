#!/usr/bin/env python3
"""Generate a random scheduling program for the differential test.

    sched_gen.py --dir DIR FIRST COUNT [LEVEL]   writes DIR/<seed>.prog for each
    sched_gen.py SEED [LEVEL]   prints the program on stdout (LEVEL 1-3, default 3:
                                which ops it may use; see LEVELS)

The program is a line-based DSL (see README.md in this folder): a header
that declares the shared objects, then the tasks T0..Tk, each a list of
ops.  T0 is started by the driver; every other task is started by one
`spawn` op or one `tg` op of a task with a smaller number, so a task may
never start (its parent was cancelled first), which the interpreters
report the same way.  The same seed always gives the same program (the
generator uses its own random.Random), so CI runs are deterministic.
"""
import random
import sys


# The ops of each level: 1 = tasks, events, futures, cancel, join; 2 adds
# queues, locks, semaphores, conditions, uncancel/cancelling; 3 adds gather,
# shield, wait_for, timeout scopes and task groups.
LEVEL1 = {"yield", "call_soon", "event_wait", "event_set", "event_clear", "fut_set",
          "fut_fail", "fut_cancel", "fut_await", "cancel", "await", "fail"}
LEVEL2 = LEVEL1 | {"put", "get", "put_nowait", "get_nowait", "task_done", "q_join",
                   "shutdown", "lock", "lock_release", "sem", "sem_release", "cond_wait",
                   "cond_notify", "cond_notify_all", "uncancel", "cancelling"}
LEVEL3 = LEVEL2 | {"gather", "shield", "wait_for", "timeout", "tg", "soon", "fut_cb", "wait"}
# 4 adds timers on a virtual clock (both sides): sleep(k), timeout(k) and
# wait_for(x, k) with k > 0.
LEVEL4 = LEVEL3 | {"sleep", "later", "as_completed", "probe", "uncancel_t", "hsoon", "hcancel",
                   "await_f", "gather_t", "cond_wait_for", "bsem", "timeout_r"}
# 5 adds a Barrier (3.11): wait, reset, abort; and eager tasks (3.12) in
# half its programs.
LEVEL5 = LEVEL4 | {"bar", "bar_reset", "bar_abort"}
LEVELS = {1: LEVEL1, 2: LEVEL2, 3: LEVEL3, 4: LEVEL4, 5: LEVEL5}


def gen(seed, level=3):
    allowed = LEVELS[level]
    r = random.Random(seed)
    ntasks = r.randint(2, r.choice([6, 6, 9]))
    nev = r.randint(1, 2)
    nfut = r.randint(1, 3)
    nlock = 1
    sems = [r.randint(0, 2)]
    bsems = [r.randint(1, 2)] if "bsem" in allowed else []
    nconds = 1
    # (drawn only at level 5, so that lower levels keep their programs)
    parties = [r.randint(1, 3)] if "bar" in allowed else []
    # level 5: eager tasks (3.12's eager_task_factory) in half the programs
    eager = r.randint(0, 1) if "bar" in allowed else 0
    queues = [(r.choice(["fifo", "fifo", "lifo", "prio"]), r.choice([0, 1, 2]))
              for _ in range(r.randint(1, 2))]
    modes = [r.choice(["absorb", "propagate"]) for _ in range(ntasks)]
    ops = [[] for _ in range(ntasks)]

    def ev():
        return "E%d" % r.randrange(nev)

    def fut():
        return "F%d" % r.randrange(nfut)

    def q():
        return "Q%d" % r.randrange(len(queues))

    def other(me):
        # Only tasks with a higher number: a task waits for tasks after it
        # (as a task group waits for its children), so no two tasks ever
        # wait for each other (a cycle would never end).
        c = [i for i in range(me + 1, ntasks)]
        return "T%d" % r.choice(c) if c else None

    def awaitable(me):
        t = other(me)
        if t is None or r.random() < 0.5:
            return fut()
        return t

    def delay(zero_none=("0", "N")):
        """A timeout: 0, N (none), or with timers a time that no sum of
        others is likely to equal (equal deadlines are FIFO in corio but in
        heap order in asyncio, and a sum of floats is not the sum of
        corio's nanoseconds)."""
        if "sleep" in allowed and r.random() < 0.5:
            return "%.4f" % (r.randint(1, 40000) / 1e4)
        return r.choice(zero_none)

    def waiting_op(me, depth=0):
        """An op that may suspend (what timeout prefixes wrap)."""
        k = r.choice([k for k in ["yield", "event_wait", "fut_await", "await", "get", "put",
                                  "lock", "sem", "cond_wait", "timeout", "uncancel_after",
                                  "sleep", "bar"]
                      if k in allowed or (k == "uncancel_after" and "timeout" in allowed)])
        if k in ("timeout", "uncancel_after") and depth >= 2:
            return "yield"
        if k == "timeout":
            return "timeout %s %s" % (delay(), waiting_op(me, depth + 1))
        if k == "uncancel_after":
            # a wait whose cancellation is withdrawn at once (uncancel inside a scope)
            return "uncancel_after " + waiting_op(me, depth + 1)
        if k == "yield":
            return "yield"
        if k == "sleep":
            return "sleep %.4f" % (r.randint(1, 40000) / 1e4)
        if k == "event_wait":
            return "event_wait " + ev()
        if k == "fut_await":
            return "fut_await " + fut()
        if k == "await":
            t = other(me)
            return "await " + t if t else "yield"
        if k == "get":
            return "get " + q()
        if k == "put":
            return "put %s %d" % (q(), r.randint(1, 9))
        if k == "lock":
            return "lock L0"
        if k == "sem":
            return "sem S0"
        if k == "bar":
            return "bar B0"
        return "cond_wait C0"

    def op_sync():
        return r.choice(["event_set " + ev(), "fut_set %s %d" % (fut(), r.randint(1, 99)),
                         "fut_cancel " + fut(), "fut_fail " + fut(),
                         "cancel T%d" % r.randrange(ntasks), "put_nowait %s %d" % (q(), r.randint(1, 9)),
                         "get_nowait " + q(), "sem_release S0", "lock_release L0",
                         "event_clear " + ev(), "shutdown %s %d" % (q(), r.randint(0, 1))])

    def op(me):
        w = r.random()
        k = r.choice([k for k in [
            "yield", "yield", "call_soon", "event_wait", "event_wait", "event_set", "event_set",
            "event_clear", "fut_set", "fut_fail", "fut_cancel", "fut_await", "fut_await",
            "cancel", "cancel", "await", "await", "fail",
            "put", "get", "put_nowait", "get_nowait", "task_done", "q_join", "shutdown",
            "lock", "lock_release", "sem", "sem_release", "cond_wait", "cond_notify",
            "cond_notify_all", "uncancel", "cancelling", "gather", "shield", "wait_for",
            "timeout", "timeout", "soon", "soon", "fut_cb", "wait", "sleep", "sleep",
            "later", "later", "as_completed", "probe", "uncancel_t", "hsoon", "hsoon", "hcancel",
            "hcancel", "await_f", "gather_t", "cond_wait_for", "bsem", "timeout_r",
            "bar", "bar", "bar", "bar_reset", "bar_abort"]
            if k in allowed])
        if k == "yield":
            return "yield"
        if k == "call_soon":
            return "call_soon %d" % r.randint(1, 99)
        if k in ("event_wait", "event_set", "event_clear"):
            return "%s %s" % (k, ev())
        if k in ("fut_set",):
            return "fut_set %s %d" % (fut(), r.randint(1, 99))
        if k in ("fut_fail", "fut_cancel", "fut_await"):
            return "%s %s" % (k, fut())
        if k == "cancel" and "sleep" in allowed:
            return "cancel T%d" % r.randrange(ntasks)  # any task, itself too
        if k in ("cancel", "await"):
            if k == "cancel" and r.random() < 0.1:
                return "cancel T%d" % me  # a task cancelling itself
            t = other(me)
            return "%s %s" % (k, t) if t else "yield"
        if k == "fail":
            return "fail" if w < 0.5 else "yield"
        if k in ("put", "put_nowait"):
            return "%s %s %d" % (k, q(), r.randint(1, 9))
        if k in ("get", "get_nowait", "task_done", "q_join"):
            return "%s %s" % (k, q())
        if k == "shutdown":
            return "shutdown %s %d" % (q(), r.randint(0, 1))
        if k == "lock":
            return "lock L0"
        if k == "lock_release":
            return "lock_release L0"
        if k == "sem":
            return "sem S0"
        if k == "sem_release":
            return "sem_release S0"
        if k == "cond_wait":
            return "cond_wait C0"
        if k == "cond_notify":
            return "cond_notify C0 %d" % r.randint(1, 2)
        if k == "cond_notify_all":
            return "cond_notify_all C0"
        if k in ("uncancel", "cancelling"):
            return k
        if k in ("bar", "bar_reset", "bar_abort"):
            return k + " B0"
        if k == "gather":
            objs = []
            for _ in range(r.randint(1, 3)):
                a = awaitable(me)
                # the same future twice now and then (asyncio waits for it once)
                if a not in objs or ("sleep" in allowed and r.random() < 0.3):
                    objs.append(a)
            return "gather %d %s" % (r.randint(0, 1), " ".join(objs))
        if k == "shield":
            return "shield " + awaitable(me)
        if k == "wait_for":
            return "wait_for %s %s" % (delay(), awaitable(me))
        if k == "timeout":
            return "timeout %s %s" % (delay(("0", "0", "N")), waiting_op(me))
        if k == "sleep":
            return "sleep %.4f" % (r.randint(1, 40000) / 1e4)
        if k == "soon":
            # a callback that does a non-suspending op
            return "soon " + op_sync()
        if k == "later":
            # a timer callback doing a non-suspending op
            return "later %.4f %s" % (r.randint(1, 40000) / 1e4, op_sync())
        if k == "probe":
            return "probe"
        if k == "cond_wait_for":
            return "cond_wait_for C0 " + ev()
        if k == "bsem":
            return r.choice(["sem S1", "sem_release S1"])
        if k == "timeout_r":
            return "timeout_r %s %s %s" % (delay(("N",)), delay(("0", "N")), waiting_op(me, 1))
        if k == "await_f":
            t = other(me)
            return "await_f " + t if t else "yield"
        if k == "gather_t":
            ts = [t for t in (other(me) for _ in range(r.randint(1, 3))) if t]
            return "gather_t %d %s" % (r.randint(0, 1), " ".join(ts)) if ts else "yield"
        if k == "uncancel_t":
            return "uncancel T%d" % r.randrange(ntasks)
        if k == "hsoon":
            # a callback with a handle of its own (H0..H3), which hcancel cancels
            d = r.choice(["0", "%.4f" % (r.randint(1, 40000) / 1e4)])
            return "hsoon H%d %s %d" % (r.randrange(4), d, r.randint(1, 99))
        if k == "hcancel":
            return "hcancel H%d" % r.randrange(4)
        if k == "as_completed":
            objs = []
            for _ in range(r.randint(1, 3)):
                a = awaitable(me)
                if a not in objs:
                    objs.append(a)
            return "as_completed %s %s" % (delay(), " ".join(objs))
        if k == "fut_cb":
            return "fut_cb %s %d" % (awaitable(me), r.randint(1, 99))
        if k == "wait":
            objs = []
            for _ in range(r.randint(1, 3)):
                a = awaitable(me)
                if a not in objs:
                    objs.append(a)
            return "wait %d %s %s" % (r.randint(1, 3), delay(), " ".join(objs))
        raise AssertionError(k)

    for i in range(ntasks):
        for _ in range(r.randint(1, r.choice([4, 7, 12]))):
            ops[i].append(op(i))
        # a fail ends the task: drop what follows it
        for j, o in enumerate(ops[i]):
            if o == "fail":
                del ops[i][j + 1:]
                break
    # who starts whom: each task is started by exactly one earlier task,
    # alone (spawn) or with siblings of the same parent (tg)
    parent = {}
    for i in range(1, ntasks):
        parent[i] = r.randrange(i)
    by_parent = {}
    for c, p in parent.items():
        by_parent.setdefault(p, []).append(c)
    for p, children in by_parent.items():
        while children:
            if "tg" in allowed and r.random() < 0.3:
                n = r.randint(1, min(2, len(children)))
                group, children = children[:n], children[n:]
                stmt = "tg " + " ".join("T%d" % c for c in group)
                if "sleep" in allowed and r.random() < 0.6:
                    # a body other than sleep(0): its error joins the group's
                    stmt += " / " + r.choice(["yield", "event_wait " + ev(), "fut_await " + fut(),
                                              "get " + q(), "get_nowait " + q(),
                                              "sleep %.4f" % (r.randint(1, 40000) / 1e4)])
            else:
                stmt, children = "spawn T%d" % children[0], children[1:]
            body = ops[p]
            cut = len(body) - 1 if body and body[-1] == "fail" else len(body)
            body.insert(r.randint(0, cut), stmt)

    out = ["# sched_gen seed %d" % seed, "iters %d" % r.choice([0, 1, 2, 3, 5, 8, 40, 40]),
           # with timers: a virtual clock, and the driver sleeps `settle`
           # virtual seconds after its yields (0: cancel tasks mid-sleep)
           "virtual %d settle %s" % ((1, r.choice(["0", "2.5", "100"])) if "sleep" in allowed
                                     else (0, "0")),
           "events %d" % nev, "futures %d" % nfut, "locks %d" % nlock,
           "sems " + " ".join([str(s) for s in sems] + ["b%d" % s for s in bsems]),
           "conds %d" % nconds] + (["barriers " + " ".join(str(b) for b in parties)] if parties else []) + (["eager 1"] if eager else []) + [
           "queues " + " ".join("%s:%d" % qq for qq in queues)]
    for i in range(ntasks):
        out.append("task T%d %s" % (i, modes[i]))
        for o in ops[i]:
            out.append("  " + o)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--dir":
        # --dir DIR FIRST COUNT [LEVEL]: DIR/<seed>.prog for each seed
        d, first, count = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        level = int(sys.argv[5]) if len(sys.argv) > 5 else 3
        for s in range(first, first + count):
            with open("%s/%d.prog" % (d, s), "w") as f:
                f.write(gen(s, level))
        sys.exit(0)
    sys.stdout.write(gen(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3))
