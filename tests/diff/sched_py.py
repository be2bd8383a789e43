#!/usr/bin/env python3
"""Run a sched_gen program under asyncio and print its trace.

    PYENV_VERSION=3.13.0 python3 sched_py.py PROGRAM
    PYENV_VERSION=3.13.0 python3 sched_py.py --batch A.prog B.prog ...

The reference side of the differential test: sched_c.c interprets the same
program over corio and must print the same lines.  Every op is executed
exactly as the README of this folder describes; exceptions are printed
under corio's errno names (CancelledError as ECANCELED, TimeoutError as
ETIMEDOUT, ...) so that the two traces compare line by line.
"""
import asyncio
import functools
import os
import sys

ITERS = 40          # driver iterations before it starts cancelling what is left (header `iters`)
MAX_ROUNDS = 100    # cancel rounds per task before the driver gives up (stuck)
TAIL = 3            # iterations after the last task, for callbacks still queued

out = []
DEBUG = bool(os.environ.get("SCHED_DEBUG"))


def log(s):
    out.append(s)
    if DEBUG:
        print(s, file=sys.stderr, flush=True)


def outcome(f):
    """A task's or future's final state as the trace prints it."""
    if not f.done():
        return "pending"
    if f.cancelled():
        return "cancelled"
    if f.exception() is not None:
        return ename(f.exception())
    return str(f.result())


class Fail(Exception):
    """What the op `fail` raises; corio's side returns -EIO."""


def ename(e):
    if isinstance(e, asyncio.CancelledError):
        return "ECANCELED"
    if isinstance(e, TimeoutError):
        return "ETIMEDOUT"
    if isinstance(e, asyncio.QueueShutDown):
        return "ESHUTDOWN"
    if isinstance(e, (asyncio.QueueFull, asyncio.QueueEmpty)):
        return "EAGAIN"
    if isinstance(e, asyncio.BrokenBarrierError):
        return "EBROKEN"
    if isinstance(e, asyncio.InvalidStateError):
        return "EINVAL"
    if isinstance(e, RuntimeError):
        return "EPERM"
    if isinstance(e, Fail):
        return "EIO"
    if isinstance(e, ValueError):
        # BoundedSemaphore released too often (also from `async with`'s
        # release) is corio's -EOVERFLOW; task_done() called too often -EINVAL
        return "EOVERFLOW" if "BoundedSemaphore" in str(e) else "EINVAL"
    return "E?" + type(e).__name__


class Prog:
    def __init__(self, text):
        self.tasks = []  # (mode, [op tokens])
        self.head = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            w = line.split()
            if w[0] == "task":
                self.tasks.append((w[2], []))
            elif self.tasks:
                self.tasks[-1][1].append(w)
            else:
                self.head[w[0]] = w[1:]


def delay(tok):
    """A timeout argument: "0", "N" (none) or seconds."""
    return None if tok == "N" else float(tok)


class VirtualLoop(asyncio.SelectorEventLoop):
    """A loop whose clock jumps to the next timer whenever nothing is ready
    (corio's virtual clock): its selector never sleeps."""

    def __init__(self):
        super().__init__()
        self._vt = 0.0
        real = self._selector.select
        loop = self

        def select(timeout=None):
            if timeout is None or timeout > 0:
                if loop._scheduled:
                    loop._vt = max(loop._vt, loop._scheduled[0]._when)
            return real(0)
        self._selector.select = select

    def time(self):
        return self._vt


class _OrderedSet(dict):
    """A set that iterates in insertion order (the methods TaskGroup uses)."""

    def add(self, x):
        self[x] = None

    def discard(self, x):
        self.pop(x, None)

    def remove(self, x):
        del self[x]


class TaskGroup(asyncio.TaskGroup):
    """asyncio.TaskGroup whose abort cancels the children in the order they
    were created.  asyncio keeps them in a set(), so its order follows the
    tasks' addresses: arbitrary, and different from run to run; corio
    cancels them in creation order.  Which order asyncio happens to take
    changes what the children see (a child cancelled first may enter a
    Condition.wait that the other's cancellation then wakes spuriously), so
    the reference side pins the order corio uses."""

    def __init__(self):
        super().__init__()
        self._tasks = _OrderedSet()


class AsCompleted(asyncio.tasks._AsCompletedIterator):
    """asyncio.as_completed's iterator, with its futures kept in argument
    order.  asyncio registers its done-callbacks by iterating over a set(),
    so futures already done when the iteration starts come out in the
    order of their addresses; corio hands them out in argument order.  Only
    the set is replaced: the callbacks, the timeout and __anext__ are
    asyncio's own."""

    def __init__(self, aws, timeout):
        self._done = asyncio.Queue()
        self._timeout_handle = None
        todo = _OrderedSet()
        for aw in dict.fromkeys(aws):
            todo.add(asyncio.ensure_future(aw))
        for f in todo:
            f.add_done_callback(self._handle_completion)
        if todo and timeout is not None:
            self._timeout_handle = asyncio.get_running_loop().call_later(timeout, self._handle_timeout)
        self._todo = todo
        self._todo_left = len(todo)


class Unspawned(Exception):
    pass


class Interp:
    def __init__(self, prog):
        self.p = prog
        h = prog.head
        self.events = [asyncio.Event() for _ in range(int(h["events"][0]))]
        loop = asyncio.get_running_loop()
        self.futs = [loop.create_future() for _ in range(int(h["futures"][0]))]
        self.locks = [asyncio.Lock() for _ in range(int(h["locks"][0]))]
        # "bN": a BoundedSemaphore (releasing it too often: ValueError, EOVERFLOW)
        self.sems = [asyncio.BoundedSemaphore(int(v[1:])) if v[0] == "b" else asyncio.Semaphore(int(v))
                     for v in h["sems"]]
        self.conds = [asyncio.Condition() for _ in range(int(h["conds"][0]))]
        self.bars = [asyncio.Barrier(int(v)) for v in h.get("barriers", [])]
        self.queues = []
        for spec in h["queues"]:
            kind, size = spec.split(":")
            cls = {"fifo": asyncio.Queue, "lifo": asyncio.LifoQueue,
                   "prio": asyncio.PriorityQueue}[kind]
            self.queues.append(cls(int(size)))
        self.handles = {}     # H0.. -> asyncio.Handle
        self.handle_ran = {}  # H0.. -> its callback ran
        self.tasks = {}   # n -> asyncio.Task
        self.order = []   # n in the order tasks were created

    def start(self, n, tg=None):
        name = "T%d" % n
        coro = self.run_task(n)
        t = tg.create_task(coro, name=name) if tg else asyncio.create_task(coro, name=name)
        self.tasks[n] = t
        self.order.append(n)

    def obj(self, ref):
        """A future or a task named in an op (Unspawned: the task never started)."""
        if ref[0] == "F":
            return self.futs[int(ref[1:])]
        n = int(ref[1:])
        if n not in self.tasks:
            raise Unspawned()
        return self.tasks[n]

    def cb(self, k):
        log("cb %d" % k)

    SYNC = {"event_set", "event_clear", "fut_set", "fut_fail", "fut_cancel", "cancel",
            "put_nowait", "get_nowait", "shutdown", "lock_release", "sem_release"}

    def soon_cb(self, w):
        try:
            r = self.do_sync(w)
        except Unspawned:
            r = "unspawned"
        except Exception as e:
            r = ename(e)
        log("cb soon %s -> %s" % (" ".join(w), r))

    def h_cb(self, name, k):
        self.handle_ran[name] = True
        log("cb %s %d" % (name, k))

    def later_cb(self, w):
        try:
            r = self.do_sync(w)
        except Unspawned:
            r = "unspawned"
        except Exception as e:
            r = ename(e)
        log("cb later %s -> %s" % (" ".join(w), r))

    def probe(self):
        """The state of every object, as corio's queries give it."""
        p = []
        p += ["E%d=%d" % (i, e.is_set()) for i, e in enumerate(self.events)]
        p += ["L%d=%d" % (i, l.locked()) for i, l in enumerate(self.locks)]
        p += ["S%d=%d/%d" % (i, s._value, s.locked()) for i, s in enumerate(self.sems)]
        p += ["C%d=%d" % (i, c.locked()) for i, c in enumerate(self.conds)]
        p += ["B%d=%d/%d/%s" % (i, b.n_waiting, b.broken, b._state.value) for i, b in enumerate(self.bars)]
        p += ["Q%d=%d/%d/%d" % (i, q.qsize(), q.empty(), q.full()) for i, q in enumerate(self.queues)]
        p += ["F%d=%d/%d" % (i, f.done(), f.cancelled()) for i, f in enumerate(self.futs)]
        for n in self.order:
            t = self.tasks[n]
            p.append("T%d=%d/%d/%d" % (n, t.done(), t.cancelled(), t.cancelling()))
        return " ".join(p)

    def fut_cb(self, k, f):
        log("fcb %d" % k)

    def do_sync(self, w):
        """An op that never suspends (also run from callbacks)."""
        op, a = w[0], w[1:]
        if op == "event_set":
            self.events[int(a[0][1:])].set()
            return "ok"
        if op == "event_clear":
            self.events[int(a[0][1:])].clear()
            return "ok"
        if op == "fut_set":
            self.futs[int(a[0][1:])].set_result(int(a[1]))
            return "ok"
        if op == "fut_fail":
            self.futs[int(a[0][1:])].set_exception(Fail())
            return "ok"
        if op == "fut_cancel":
            return int(self.futs[int(a[0][1:])].cancel())
        if op == "cancel":
            return int(self.obj(a[0]).cancel())
        if op == "put_nowait":
            self.queues[int(a[0][1:])].put_nowait(int(a[1]))
            return "ok"
        if op == "get_nowait":
            return self.queues[int(a[0][1:])].get_nowait()
        if op == "shutdown":
            self.queues[int(a[0][1:])].shutdown(immediate=bool(int(a[1])))
            return "ok"
        if op == "lock_release":
            self.locks[int(a[0][1:])].release()
            return "ok"
        if op == "sem_release":
            self.sems[int(a[0][1:])].release()
            return "ok"
        raise AssertionError("unknown op " + op)

    async def do(self, me, w):
        """One op; returns the value to print, raises what the op raises."""
        op, a = w[0], w[1:]
        if op in self.SYNC:
            return self.do_sync(w)
        if op == "later":
            asyncio.get_running_loop().call_later(float(a[0]), self.later_cb, a[1:])
            return "ok"
        if op == "probe":
            return self.probe()
        if op == "as_completed":
            objs = [self.obj(x) for x in a[1:]]
            names = {id(self.obj(x)): x for x in a[1:]}
            got = []
            try:
                async for f in AsCompleted(objs, delay(a[0])):
                    try:
                        got.append("%s=%s" % (names[id(f)], await f))
                    except Exception as e:
                        got.append("%s=%s" % (names[id(f)], ename(e)))
                    except asyncio.CancelledError:
                        got.append("%s=ECANCELED" % names[id(f)])
            except TimeoutError:
                got.append("ETIMEDOUT")
            return "[" + ",".join(got) + "]"
        if op == "soon":
            asyncio.get_running_loop().call_soon(self.soon_cb, a)
            return "ok"
        if op == "fut_cb":
            self.obj(a[0]).add_done_callback(functools.partial(self.fut_cb, int(a[1])))
            return "ok"
        if op == "wait":
            objs = [self.obj(x) for x in a[2:]]
            rw = {1: asyncio.FIRST_COMPLETED, 2: asyncio.FIRST_EXCEPTION,
                  3: asyncio.ALL_COMPLETED}[int(a[0])]
            done, pending = await asyncio.wait(objs, timeout=delay(a[1]),
                                               return_when=rw)
            return "done=%d" % len(done)
        if op == "uncancel_after":
            # the op; if it is cancelled, withdraw the request (uncancel) and
            # report what remains
            try:
                return await self.do(me, a)
            except asyncio.CancelledError:
                return "uncancelled %d" % asyncio.current_task().uncancel()
        if op == "yield":
            await asyncio.sleep(0)
            return "ok"
        if op == "sleep":
            await asyncio.sleep(float(a[0]))
            return "ok"
        if op == "spawn":
            self.start(int(a[0][1:]))
            return "ok"
        if op == "call_soon":
            asyncio.get_running_loop().call_soon(self.cb, int(a[0]))
            return "ok"
        if op == "event_wait":
            await self.events[int(a[0][1:])].wait()
            return "ok"
        if op == "fut_await":
            return await self.futs[int(a[0][1:])]
        if op in ("await", "await_f"):
            return await self.obj(a[0])
        if op == "uncancel":
            return (self.obj(a[0]) if a else asyncio.current_task()).uncancel()
        if op == "hsoon":
            loop = asyncio.get_running_loop()
            h = self.handles.get(a[0])
            if h is not None and not h.cancelled() and not self.handle_ran.get(a[0]):
                return "busy"  # still scheduled: corio refuses to reuse it (EINVAL)
            self.handle_ran[a[0]] = False
            if a[1] == "0":
                self.handles[a[0]] = loop.call_soon(self.h_cb, a[0], int(a[2]))
            else:
                self.handles[a[0]] = loop.call_later(float(a[1]), self.h_cb, a[0], int(a[2]))
            return "ok"
        if op == "hcancel":
            h = self.handles.get(a[0])
            if h is None:
                return "none"
            if h.cancelled() or self.handle_ran.get(a[0]):
                h.cancel()
                return 0
            h.cancel()
            return 1
        if op == "cancelling":
            return asyncio.current_task().cancelling()
        if op == "put":
            await self.queues[int(a[0][1:])].put(int(a[1]))
            return "ok"
        if op == "get":
            return await self.queues[int(a[0][1:])].get()
        if op == "task_done":
            self.queues[int(a[0][1:])].task_done()
            return "ok"
        if op == "q_join":
            await self.queues[int(a[0][1:])].join()
            return "ok"
        if op == "lock":
            async with self.locks[int(a[0][1:])]:
                await asyncio.sleep(0)
            return "ok"
        if op == "sem":
            async with self.sems[int(a[0][1:])]:
                await asyncio.sleep(0)
            return "ok"
        if op == "bar":
            return await self.bars[int(a[0][1:])].wait()
        if op == "bar_reset":
            await self.bars[int(a[0][1:])].reset()
            return "ok"
        if op == "bar_abort":
            await self.bars[int(a[0][1:])].abort()
            return "ok"
        if op == "cond_wait":
            c = self.conds[int(a[0][1:])]
            async with c:
                await c.wait()
            return "ok"
        if op == "cond_wait_for":
            c = self.conds[int(a[0][1:])]
            e = self.events[int(a[1][1:])]
            async with c:
                await c.wait_for(e.is_set)
            return "ok"
        if op == "timeout_r":
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(delay(a[0])) as cm:
                d = delay(a[1])
                cm.reschedule(None if d is None else loop.time() + d)
                return await self.do(me, a[2:])
        if op == "cond_notify":
            c = self.conds[int(a[0][1:])]
            async with c:
                c.notify(int(a[1]))
            return "ok"
        if op == "cond_notify_all":
            c = self.conds[int(a[0][1:])]
            async with c:
                c.notify_all()
            return "ok"
        if op in ("gather", "gather_t"):
            objs = [self.obj(x) for x in a[1:]]
            res = await asyncio.gather(*objs, return_exceptions=bool(int(a[0])))
            return "[" + ",".join(ename(x) if isinstance(x, BaseException) else str(x)
                                  for x in res) + "]"
        if op == "shield":
            return await asyncio.shield(self.obj(a[0]))
        if op == "wait_for":
            o = self.obj(a[1])
            return await asyncio.wait_for(o, delay(a[0]))
        if op == "timeout":
            async with asyncio.timeout(delay(a[0])):
                return await self.do(me, a[1:])
        if op == "tg":
            try:
                body = a.index("/") if "/" in a else len(a)
                async with TaskGroup() as g:
                    for x in a[:body]:
                        self.start(int(x[1:]), g)
                    if body < len(a):
                        await self.do(me, a[body + 1:])
                    else:
                        await asyncio.sleep(0)
            except ExceptionGroup as eg:
                return "EG[" + ",".join(ename(e) for e in eg.exceptions) + "]"
            return "ok"
        raise AssertionError("unknown op " + op)

    async def run_task(self, n):
        mode, ops = self.p.tasks[n]
        log("T%d start" % n)
        for i, w in enumerate(ops):
            head = "T%d #%d %s ->" % (n, i, " ".join(w))
            if w[0] == "fail":
                log("T%d #%d fail" % (n, i))
                log("T%d end EIO" % n)
                raise Fail()
            try:
                r = await self.do(n, w)
                log("%s %s" % (head, r))
            except Unspawned:
                log("%s unspawned" % head)
            except asyncio.CancelledError:
                log("%s ECANCELED" % head)
                if mode == "propagate":
                    log("T%d end ECANCELED" % n)
                    raise
            except Exception as e:
                log("%s %s" % (head, ename(e)))
        log("T%d end %d" % (n, 100 + n))
        return 100 + n

    async def driver(self):
        if int(self.p.head.get("eager", ["0"])[0]):
            asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
        self.start(0)
        for _ in range(int(self.p.head.get("iters", [ITERS])[0])):
            await asyncio.sleep(0)
        settle = float(self.p.head.get("virtual", ["0", "settle", "0"])[2])
        if settle > 0:
            await asyncio.sleep(settle)
        # Cancel every unfinished task, in creation order, once a round,
        # until all are done: a task that absorbs a cancellation goes on
        # to its next op, so rounds end every task with a finite program.
        rounds = 0
        while True:
            left = [n for n in self.order if not self.tasks[n].done()]
            if not left:
                break
            if rounds == MAX_ROUNDS:
                log("drv stuck " + " ".join("T%d" % n for n in left))
                return False
            for n in left:
                log("drv cancel T%d -> %d" % (n, self.tasks[n].cancel()))
            await asyncio.sleep(0)
            rounds += 1
        for _ in range(TAIL):
            await asyncio.sleep(0)
        self.summary()
        return True

    def summary(self):
        for n in range(len(self.p.tasks)):
            t = self.tasks.get(n)
            log("final T%d %s" % (n, "unspawned" if t is None else outcome(t)))
        for i, f in enumerate(self.futs):
            log("final F%d %s" % (i, outcome(f)))
        for i, e in enumerate(self.events):
            log("final E%d %d" % (i, int(e.is_set())))
        for i, q in enumerate(self.queues):
            log("final Q%d size %d" % (i, q.qsize()))
        for i, l in enumerate(self.locks):
            log("final L%d %d" % (i, int(l.locked())))
        for i, s in enumerate(self.sems):
            log("final S%d %d" % (i, s._value))
        for i, b in enumerate(self.bars):
            log("final B%d %d %s" % (i, b.n_waiting, b._state.value))


async def amain(prog):
    it = Interp(prog)
    return await it.driver()


def run_one(path):
    """The trace of one program, and whether it ended (not stuck)."""
    global out
    out = []
    with open(path) as f:
        prog = Prog(f.read())
    virtual = int(prog.head.get("virtual", ["0"])[0])
    loop = VirtualLoop() if virtual else asyncio.new_event_loop()
    ok = loop.run_until_complete(amain(prog))
    if ok:
        loop.close()
    # A stuck loop keeps tasks that never finish: it is left as it is,
    # without asyncio.run's final cancel-and-wait, which would wait for ever.
    return "".join(line + "\n" for line in out), ok


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--batch":
        # --batch A.prog B.prog ...: write A.py (the trace; "stuck" added as
        # a last line when the driver gave up) next to each: one Python
        # start for hundreds of programs.
        for path in sys.argv[2:]:
            trace, ok = run_one(path)
            with open(path[:-5] + ".py", "w") as f:
                f.write(trace if ok else trace + "exit 3\n")
        return
    trace, ok = run_one(sys.argv[1])
    sys.stdout.write(trace)
    sys.stdout.flush()
    os._exit(0 if ok else 3)


if __name__ == "__main__":
    main()
