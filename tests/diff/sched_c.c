/*
 * sched_c.c - run a sched_gen program over corio and print its trace.
 *
 *     sched_c PROGRAM
 *
 * The corio side of the differential test: sched_py.py runs the same
 * program under asyncio, and the two traces must be equal line by line.
 * Every op does what sched_py.py's Interp.do does, through the public API
 * only; asyncio's exceptions are printed under the names of the negative
 * errno values corio returns for them (ECANCELED, ETIMEDOUT, ...).  See
 * README.md in this folder for the DSL.
 */
#include <corio.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXT 16      /* tasks */
#define MAXOPS 32    /* ops per task */
#define MAXTOK 16    /* tokens per op */
#define MAXOBJ 4     /* objects of each kind */
#define ITERS 40     /* as sched_py.py: driver iterations before cancelling (header `iters`) */
#define MAX_ROUNDS 100
#define TAIL 3
#define UNSPAWNED (-100000) /* an op named a task that never started */

typedef struct op {
    int ntok;
    char tok[MAXTOK][16];
} op;

typedef struct taskdef {
    int propagate; /* 1: an ECANCELED op ends the task cancelled */
    int nops;
    op ops[MAXOPS];
} taskdef;

static taskdef prog[MAXT];
static int ntasks;
static int nev, nfut, nlock, nsem, ncond, nq, nbar;
static int iters = ITERS;
static int virtual_clock;  /* header `virtual 1`: timers on corio's virtual clock */
static int eager;          /* header `eager 1`: eager tasks (asyncio's eager_task_factory) */
static double settle;      /* virtual seconds the driver sleeps after its yields */
static long sem_init[MAXOBJ];
static int sem_bounded[MAXOBJ]; /* "bN" in the header: a BoundedSemaphore */
static size_t bar_parties[MAXOBJ];
static int q_kind[MAXOBJ];
static size_t q_size[MAXOBJ];

static corio_event ev[MAXOBJ];
static corio_future fut[MAXOBJ];
static corio_lock lock[MAXOBJ];
static corio_semaphore sem[MAXOBJ];
static corio_condition cond[MAXOBJ];
static corio_barrier bar[MAXOBJ];
static corio_queue queue[MAXOBJ];

static corio_task *reg[MAXT]; /* the registry's reference to each started task */
static int order[MAXT], norder;

static const char *ename(int err) {
    static char buf[32];
    switch (err) {
    case -ECANCELED: return "ECANCELED";
    case -ETIMEDOUT: return "ETIMEDOUT";
    case -ESHUTDOWN: return "ESHUTDOWN";
    case -EAGAIN: return "EAGAIN";
    case -EINVAL: return "EINVAL";
    case -EPERM: return "EPERM";
    case -EIO: return "EIO";
    case -EOVERFLOW: return "EOVERFLOW";
    case CORIO_EBROKEN_BARRIER: return "EBROKEN";
    default: snprintf(buf, sizeof buf, "E?%d", -err); return buf;
    }
}

static void die(const char *msg, const char *arg) {
    fprintf(stderr, "sched_c: %s%s\n", msg, arg);
    exit(2);
}

/* The index in a reference such as "E1" or "T12". */
static int idx(const char *tok, int limit) {
    char *end;
    long v = strtol(tok + 1, &end, 10);
    if (*end || v < 0 || v >= limit) die("bad reference ", tok);
    return (int)v;
}

static void parse(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die("cannot open ", path);
    char line[512];
    taskdef *cur = NULL;
    while (fgets(line, sizeof line, f)) {
        char *w[MAXTOK + 2];
        int n = 0;
        for (char *s = strtok(line, " \t\r\n"); s && n < MAXTOK + 2; s = strtok(NULL, " \t\r\n")) w[n++] = s;
        if (n == 0 || w[0][0] == '#') continue;
        if (strcmp(w[0], "task") == 0) {
            if (ntasks == MAXT || n < 3) die("too many tasks or bad task line", "");
            cur = &prog[ntasks++];
            cur->propagate = strcmp(w[2], "propagate") == 0;
        } else if (cur) {
            if (cur->nops == MAXOPS || n > MAXTOK) die("too many ops or tokens at ", w[0]);
            op *o = &cur->ops[cur->nops++];
            o->ntok = n;
            for (int i = 0; i < n; i++) {
                if (strlen(w[i]) >= sizeof o->tok[i]) die("token too long: ", w[i]);
                strcpy(o->tok[i], w[i]);
            }
        } else if (n >= 4 && strcmp(w[0], "virtual") == 0) {
            virtual_clock = atoi(w[1]);
            settle = atof(w[3]);
        } else if (n >= 2 && strcmp(w[0], "eager") == 0) {
            eager = atoi(w[1]);
        } else if (n >= 2 && strcmp(w[0], "iters") == 0) {
            iters = atoi(w[1]);
        } else if (n >= 2 && strcmp(w[0], "events") == 0) {
            nev = atoi(w[1]);
        } else if (n >= 2 && strcmp(w[0], "futures") == 0) {
            nfut = atoi(w[1]);
        } else if (n >= 2 && strcmp(w[0], "locks") == 0) {
            nlock = atoi(w[1]);
        } else if (n >= 2 && strcmp(w[0], "conds") == 0) {
            ncond = atoi(w[1]);
        } else if (strcmp(w[0], "sems") == 0) {
            for (int i = 1; i < n && nsem < MAXOBJ; i++) {
                sem_bounded[nsem] = w[i][0] == 'b';
                sem_init[nsem] = atol(w[i] + sem_bounded[nsem]);
                nsem++;
            }
        } else if (strcmp(w[0], "barriers") == 0) {
            for (int i = 1; i < n && nbar < MAXOBJ; i++) bar_parties[nbar++] = (size_t)atol(w[i]);
        } else if (strcmp(w[0], "queues") == 0) {
            for (int i = 1; i < n && nq < MAXOBJ; i++) {
                char *colon = strchr(w[i], ':');
                if (!colon) die("bad queue ", w[i]);
                *colon = 0;
                q_kind[nq] = strcmp(w[i], "lifo") == 0   ? CORIO_QUEUE_LIFO
                             : strcmp(w[i], "prio") == 0 ? CORIO_QUEUE_PRIORITY
                                                         : CORIO_QUEUE_FIFO;
                q_size[nq++] = (size_t)atol(colon + 1);
            }
        } else {
            die("unknown line ", w[0]);
        }
    }
    fclose(f);
    if (nev > MAXOBJ || nfut > MAXOBJ || nlock > MAXOBJ || ncond > MAXOBJ || ntasks == 0)
        die("bad header", "");
}

static int prio_cmp(const void *a, const void *b) {
    intptr_t x = (intptr_t)a, y = (intptr_t)b;
    return x < y ? -1 : x > y;
}

static void cb(void *arg) { printf("cb %d\n", (int)(intptr_t)arg); }

static corio_handle handles[MAXOBJ]; /* H0..: callbacks hsoon schedules */
static int handle_used[MAXOBJ], handle_ran[MAXOBJ], handle_k[MAXOBJ];

static void h_cb(void *arg) {
    int h = (int)(intptr_t)arg;
    handle_ran[h] = 1;
    printf("cb H%d %d\n", h, handle_k[h]);
}

static void fut_cb(corio_future *f, void *arg) {
    (void)f;
    printf("fcb %d\n", (int)(intptr_t)arg);
}

#define VAL_CAP 1024 /* bytes of an op's printed value */
static int do_op(int me, const op *o, int first, char *val);

/* `soon OP...` / `later K OP...`: the op (one that never suspends) run
 * from a callback; `first` is where OP starts. */
static void act(const op *o, int first, const char *what) {
    char val[VAL_CAP];
    int rc = do_op(-1, o, first, val);
    printf("cb %s", what);
    for (int j = first; j < o->ntok; j++) printf(" %s", o->tok[j]);
    printf(" -> %s\n", rc == UNSPAWNED ? "unspawned" : rc < 0 ? ename(rc) : val);
}

static void soon_cb(void *arg) { act(arg, 1, "soon"); }
static void later_cb(void *arg) { act(arg, 2, "later"); }

/* `probe`: the state of every object, as sched_py.py's probe prints it. */
static void probe(char *val, size_t cap) {
    size_t len = 0;
#define P(...) len += (size_t)snprintf(val + len, len < cap ? cap - len : 0, __VA_ARGS__)
    for (int i = 0; i < nev; i++) P("%sE%d=%d", len ? " " : "", i, corio_event_is_set(&ev[i]));
    for (int i = 0; i < nlock; i++) P(" L%d=%d", i, corio_lock_locked(&lock[i]));
    for (int i = 0; i < nsem; i++)
        P(" S%d=%ld/%d", i, corio_semaphore_value(&sem[i]), corio_semaphore_locked(&sem[i]));
    for (int i = 0; i < ncond; i++) P(" C%d=%d", i, corio_condition_locked(&cond[i]));
    static const char *const bar_state[] = {"filling", "draining", "resetting", "broken"};
    for (int i = 0; i < nbar; i++)
        P(" B%d=%zu/%d/%s", i, corio_barrier_n_waiting(&bar[i]), corio_barrier_broken(&bar[i]),
          bar_state[corio_barrier_state(&bar[i])]);
    for (int i = 0; i < nq; i++)
        P(" Q%d=%zu/%d/%d", i, corio_queue_size(&queue[i]), corio_queue_empty(&queue[i]), corio_queue_full(&queue[i]));
    for (int i = 0; i < nfut; i++) P(" F%d=%d/%d", i, corio_future_done(&fut[i]), corio_future_cancelled(&fut[i]));
    for (int i = 0; i < norder; i++) {
        corio_task *t = reg[order[i]];
        P(" T%d=%d/%d/%d", order[i], corio_task_done(t), corio_task_cancelled(t), corio_task_cancelling(t));
    }
#undef P
}

static int task_main(void *arg);

static corio_task *start(int n, corio_taskgroup *g) {
    char name[16];
    snprintf(name, sizeof name, "T%d", n);
    corio_task_opts opts = {.name = name};
    corio_task *t;
    if (g) {
        t = corio_taskgroup_spawn(g, task_main, (void *)(intptr_t)n, &opts);
        if (t) corio_task_ref(t);
    } else {
        t = corio_spawn_opts(task_main, (void *)(intptr_t)n, &opts);
    }
    if (!t && g && errno == ESHUTDOWN) return NULL; /* the group is aborting: the tg op says so */
    if (!t) die("spawn failed", "");
    reg[n] = t;
    order[norder++] = n;
    return t;
}

/* The future an op names: a plain future or a task's (NULL: never started). */
static corio_future *obj(const char *tok) {
    if (tok[0] == 'F') return &fut[idx(tok, nfut)];
    corio_task *t = reg[idx(tok, ntasks)];
    return t ? corio_task_future(t) : NULL;
}

/* A timeout argument: "0", "N" (none) or seconds. */
static double delay(const char *tok) { return strcmp(tok, "N") == 0 ? INFINITY : atof(tok); }

static int event_is_set(void *arg) { return corio_event_is_set(arg); }

static int val_ok(char *val) {
    strcpy(val, "ok");
    return 0;
}

/* A result: a value printed as a number, or an error. */
static int val_num(char *val, int rc, intptr_t v) {
    if (rc < 0) return rc;
    snprintf(val, 256, "%ld", (long)v);
    return 0;
}

/* One op; returns 0 with the value to print in val, or a negative errno. */
/* A list value "[a,b,...]" in val (VAL_CAP bytes): each item its value or
 * its error's name (gather's results). */
static size_t val_clamp(size_t len) { return len < VAL_CAP ? len : VAL_CAP - 1; }
static size_t val_open(char *val) { return val_clamp((size_t)snprintf(val, VAL_CAP, "[")); }
/* Item i: "name=" first when name is not NULL (as_completed's). */
static size_t val_item(char *val, size_t len, size_t i, const char *name, int rc, intptr_t v) {
    len = val_clamp(len + (size_t)snprintf(val + len, VAL_CAP - len, "%s%s%s", i ? "," : "", name ? name : "", name ? "=" : ""));
    if (rc < 0) return val_clamp(len + (size_t)snprintf(val + len, VAL_CAP - len, "%s", ename(rc)));
    return val_clamp(len + (size_t)snprintf(val + len, VAL_CAP - len, "%ld", (long)v));
}
static void val_close(char *val, size_t len) { snprintf(val + len, VAL_CAP - len, "]"); }

static int do_op(int me, const op *o, int first, char *val) {
    const char *k = o->tok[first];
    const char *a0 = first + 1 < o->ntok ? o->tok[first + 1] : "";
    const char *a1 = first + 2 < o->ntok ? o->tok[first + 2] : "";
    int rc, r2;
    intptr_t v = 0;
    (void)me;
    if (strcmp(k, "yield") == 0) {
        rc = corio_yield();
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "sleep") == 0) {
        rc = corio_sleep(atof(a0));
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "spawn") == 0) {
        start(idx(a0, ntasks), NULL);
        return val_ok(val);
    }
    if (strcmp(k, "call_soon") == 0) {
        rc = corio_call_soon(NULL, cb, (void *)(intptr_t)atoi(a0));
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "event_wait") == 0) {
        rc = corio_event_wait(&ev[idx(a0, nev)]);
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "event_set") == 0) return corio_event_set(&ev[idx(a0, nev)]) < 0 ? -EIO : val_ok(val);
    if (strcmp(k, "event_clear") == 0) return corio_event_clear(&ev[idx(a0, nev)]) < 0 ? -EIO : val_ok(val);
    if (strcmp(k, "fut_set") == 0) {
        rc = corio_future_set_result(&fut[idx(a0, nfut)], atoi(a1));
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "fut_fail") == 0) {
        rc = corio_future_set_error(&fut[idx(a0, nfut)], -EIO);
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "fut_cancel") == 0) return val_num(val, 0, corio_future_cancel(&fut[idx(a0, nfut)]));
    if (strcmp(k, "fut_await") == 0) {
        rc = corio_await(&fut[idx(a0, nfut)], &v);
        return val_num(val, rc, v);
    }
    if (strcmp(k, "cancel") == 0) {
        corio_task *t = reg[idx(a0, ntasks)];
        if (!t) return UNSPAWNED;
        return val_num(val, 0, corio_cancel(t));
    }
    if (strcmp(k, "await") == 0) {
        corio_task *t = reg[idx(a0, ntasks)];
        if (!t) return UNSPAWNED;
        corio_task_ref(t); /* join gives up a reference: the registry keeps its own */
        rc = corio_join(t);
        return val_num(val, rc, rc);
    }
    if (strcmp(k, "await_f") == 0) { /* the task's future awaited, not joined */
        corio_task *t = reg[idx(a0, ntasks)];
        if (!t) return UNSPAWNED;
        rc = corio_await(corio_task_future(t), &v);
        return val_num(val, rc, v);
    }
    if (strcmp(k, "gather_t") == 0) { /* corio_gather_tasks, results by corio_task_value */
        corio_task *ts[MAXTOK];
        size_t n = 0;
        for (int i = first + 2; i < o->ntok; i++)
            if (!(ts[n++] = reg[idx(o->tok[i], ntasks)])) return UNSPAWNED;
        rc = corio_gather_tasks(ts, n, atoi(a0) ? CORIO_GATHER_COLLECT : 0);
        if (rc < 0) return rc;
        size_t len = val_open(val);
        for (size_t i = 0; i < n; i++) {
            r2 = corio_task_value(ts[i], &v);
            len = val_item(val, len, i, NULL, r2, v);
        }
        val_close(val, len);
        return 0;
    }
    if (strcmp(k, "uncancel") == 0) {
        corio_task *t = corio_current_task();
        if (o->ntok > first + 1 && !(t = reg[idx(a0, ntasks)])) return UNSPAWNED;
        return val_num(val, 0, corio_task_uncancel(t));
    }
    if (strcmp(k, "hsoon") == 0) {
        int h = idx(a0, MAXOBJ);
        if (handle_used[h] && !handle_ran[h] && !corio_handle_cancelled(&handles[h])) {
            strcpy(val, "busy");
            return 0;
        }
        memset(&handles[h], 0, sizeof handles[h]);
        handle_used[h] = 1;
        handle_ran[h] = 0;
        handle_k[h] = atoi(o->tok[first + 3]);
        if (strcmp(a1, "0") == 0)
            rc = corio_call_soon(&handles[h], h_cb, (void *)(intptr_t)h);
        else
            rc = corio_call_later(&handles[h], atof(a1), h_cb, (void *)(intptr_t)h);
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "hcancel") == 0) {
        int h = idx(a0, MAXOBJ);
        if (!handle_used[h]) {
            strcpy(val, "none");
            return 0;
        }
        return val_num(val, 0, corio_handle_cancel(&handles[h]));
    }
    if (strcmp(k, "cancelling") == 0) return val_num(val, 0, corio_task_cancelling(corio_current_task()));
    if (strcmp(k, "put") == 0 || strcmp(k, "put_nowait") == 0) {
        corio_queue *q = &queue[idx(a0, nq)];
        void *item = (void *)(intptr_t)atoi(a1);
        rc = k[3] ? corio_queue_put_nowait(q, item) : corio_queue_put(q, item);
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "get") == 0 || strcmp(k, "get_nowait") == 0) {
        corio_queue *q = &queue[idx(a0, nq)];
        void *item = NULL;
        rc = k[3] ? corio_queue_get_nowait(q, &item) : corio_queue_get(q, &item);
        return val_num(val, rc, (intptr_t)item);
    }
    if (strcmp(k, "task_done") == 0) {
        rc = corio_queue_task_done(&queue[idx(a0, nq)]);
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "q_join") == 0) {
        rc = corio_queue_join(&queue[idx(a0, nq)]);
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "shutdown") == 0) {
        rc = corio_queue_shutdown(&queue[idx(a0, nq)], atoi(a1));
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "lock") == 0) { /* async with lock: await sleep(0) */
        corio_lock *l = &lock[idx(a0, nlock)];
        rc = corio_lock_acquire(l);
        if (rc < 0) return rc;
        rc = corio_yield();
        r2 = corio_lock_release(l); /* an error of __aexit__ replaces the body's */
        if (r2 < 0) return r2;
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "lock_release") == 0) {
        rc = corio_lock_release(&lock[idx(a0, nlock)]);
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "sem") == 0) {
        corio_semaphore *s = &sem[idx(a0, nsem)];
        rc = corio_semaphore_acquire(s);
        if (rc < 0) return rc;
        rc = corio_yield();
        r2 = corio_semaphore_release(s);
        if (r2 < 0) return r2;
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "bar") == 0) {
        rc = corio_barrier_wait(&bar[idx(a0, nbar)]);
        return val_num(val, rc, rc);
    }
    if (strcmp(k, "bar_reset") == 0 || strcmp(k, "bar_abort") == 0) {
        rc = (k[4] == 'r' ? corio_barrier_reset : corio_barrier_abort)(&bar[idx(a0, nbar)]);
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "sem_release") == 0) {
        rc = corio_semaphore_release(&sem[idx(a0, nsem)]);
        return rc < 0 ? rc : val_ok(val);
    }
    if (strncmp(k, "cond_", 5) == 0) {
        corio_condition *c = &cond[idx(a0, ncond)];
        rc = corio_condition_acquire(c);
        if (rc < 0) return rc;
        if (strcmp(k, "cond_wait") == 0)
            rc = corio_condition_wait(c);
        else if (strcmp(k, "cond_wait_for") == 0)
            rc = corio_condition_wait_for(c, event_is_set, &ev[idx(a1, nev)]);
        else if (strcmp(k, "cond_notify") == 0)
            rc = corio_condition_notify(c, (size_t)atoi(a1));
        else
            rc = corio_condition_notify_all(c);
        r2 = corio_condition_release(c);
        if (r2 < 0) return r2;
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "gather") == 0) {
        corio_future *fs[MAXTOK];
        size_t n = 0;
        for (int i = first + 2; i < o->ntok; i++)
            if (!(fs[n++] = obj(o->tok[i]))) return UNSPAWNED;
        rc = corio_gather(fs, n, atoi(a0) ? CORIO_GATHER_COLLECT : 0);
        if (rc < 0) return rc;
        size_t len = val_open(val);
        for (size_t i = 0; i < n; i++) {
            r2 = corio_future_result(fs[i], &v);
            len = val_item(val, len, i, NULL, r2, v);
        }
        val_close(val, len);
        return 0;
    }
    if (strcmp(k, "shield") == 0) {
        corio_future *f = obj(a0);
        if (!f) return UNSPAWNED;
        rc = corio_shield(f, &v);
        return val_num(val, rc, v);
    }
    if (strcmp(k, "wait_for") == 0) {
        corio_future *f = obj(a1);
        if (!f) return UNSPAWNED;
        rc = corio_wait_for(f, delay(a0), &v);
        return val_num(val, rc, v);
    }
    if (strcmp(k, "timeout") == 0) {
        corio_timeout to;
        rc = corio_timeout_enter(&to, delay(a0));
        if (rc < 0) return rc;
        rc = do_op(me, o, first + 2, val);
        return corio_timeout_exit(&to, rc);
    }
    if (strcmp(k, "later") == 0) {
        rc = corio_call_later(NULL, atof(a0), later_cb, (void *)o);
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "probe") == 0) {
        probe(val, VAL_CAP);
        return 0;
    }
    if (strcmp(k, "as_completed") == 0) {
        corio_future *fs[MAXTOK];
        size_t n = 0;
        for (int i = first + 2; i < o->ntok; i++)
            if (!(fs[n++] = obj(o->tok[i]))) return UNSPAWNED;
        corio_as_completed it;
        rc = corio_as_completed_init(&it, fs, n, delay(a0));
        if (rc < 0) return rc;
        size_t len = val_open(val);
        corio_future *f;
        size_t got = 0;
        while ((rc = corio_as_completed_next(&it, &f)) == 1) {
            size_t j = 0;
            while (fs[j] != f) j++;
            r2 = corio_future_result(f, &v);
            len = val_item(val, len, got++, o->tok[first + 2 + j], r2, v);
        }
        corio_as_completed_close(&it);
        if (rc == -ETIMEDOUT)
            len = val_clamp(len + (size_t)snprintf(val + len, VAL_CAP - len, "%sETIMEDOUT", got ? "," : ""));
        else if (rc < 0)
            return rc;
        val_close(val, len);
        return 0;
    }
    if (strcmp(k, "soon") == 0) {
        rc = corio_call_soon(NULL, soon_cb, (void *)o);
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "fut_cb") == 0) {
        corio_future *f = obj(a0);
        if (!f) return UNSPAWNED;
        rc = corio_future_add_done_callback(f, fut_cb, (void *)(intptr_t)atoi(a1));
        return rc < 0 ? rc : val_ok(val);
    }
    if (strcmp(k, "wait") == 0) {
        corio_future *fs[MAXTOK];
        size_t n = 0;
        for (int i = first + 3; i < o->ntok; i++)
            if (!(fs[n++] = obj(o->tok[i]))) return UNSPAWNED;
        static const int rw[] = {0, CORIO_FIRST_COMPLETED, CORIO_FIRST_EXCEPTION, CORIO_ALL_COMPLETED};
        rc = corio_wait(fs, n, rw[atoi(a0) & 3], delay(a1), NULL, NULL);
        if (rc < 0) return rc;
        snprintf(val, 256, "done=%d", rc);
        return 0;
    }
    if (strcmp(k, "uncancel_after") == 0) {
        rc = do_op(me, o, first + 1, val);
        if (rc != -ECANCELED) return rc;
        snprintf(val, 256, "uncancelled %d", corio_task_uncancel(corio_current_task()));
        return 0;
    }
    if (strcmp(k, "timeout_r") == 0) {
        corio_timeout to;
        rc = corio_timeout_enter(&to, delay(a0));
        if (rc < 0) return rc;
        double d = delay(a1);
        corio_timeout_reschedule(&to, isinf(d) ? INFINITY : corio_time() + d);
        rc = do_op(me, o, first + 3, val);
        return corio_timeout_exit(&to, rc);
    }
    if (strcmp(k, "tg") == 0) {
        corio_taskgroup g;
        rc = corio_taskgroup_enter(&g);
        if (rc < 0) return rc;
        int body = first + 1;
        while (body < o->ntok && strcmp(o->tok[body], "/") != 0) body++;
        rc = 0;
        for (int i = first + 1; i < body && rc == 0; i++)
            if (!start(idx(o->tok[i], ntasks), &g))
                rc = -EPERM; /* a child failed in its eager step: asyncio's create_task raises RuntimeError */
        if (rc == 0) rc = body < o->ntok ? do_op(me, o, body + 1, val) : corio_yield();
        rc = corio_taskgroup_exit(&g, rc);
        if (rc == 0 || rc == -ECANCELED) return rc < 0 ? rc : val_ok(val);
        size_t len = (size_t)snprintf(val, 256, "EG[");
        size_t ne = corio_taskgroup_nerrors(&g);
        for (size_t i = 0; i < ne && i < CORIO_TASKGROUP_MAX_ERRORS; i++)
            len += (size_t)snprintf(val + len, 256 - len, "%s%s", i ? "," : "", ename(corio_taskgroup_error(&g, i)));
        snprintf(val + len, 256 - len, "]");
        return 0; /* printed as a value, as sched_py.py does */
    }
    die("unknown op ", k);
    return -EINVAL;
}

static int task_main(void *arg) {
    int n = (int)(intptr_t)arg;
    taskdef *td = &prog[n];
    printf("T%d start\n", n);
    for (int i = 0; i < td->nops; i++) {
        const op *o = &td->ops[i];
        char head[256], val[VAL_CAP];
        size_t len = (size_t)snprintf(head, sizeof head, "T%d #%d", n, i);
        for (int j = 0; j < o->ntok; j++) len += (size_t)snprintf(head + len, sizeof head - len, " %s", o->tok[j]);
        if (strcmp(o->tok[0], "fail") == 0) {
            printf("T%d #%d fail\nT%d end EIO\n", n, i, n);
            return -EIO;
        }
        int rc = do_op(n, o, 0, val);
        if (rc == UNSPAWNED)
            printf("%s -> unspawned\n", head);
        else if (rc < 0)
            printf("%s -> %s\n", head, ename(rc));
        else
            printf("%s -> %s\n", head, val);
        if (rc == -ECANCELED && td->propagate) {
            printf("T%d end ECANCELED\n", n);
            return -ECANCELED;
        }
    }
    printf("T%d end %d\n", n, 100 + n);
    return 100 + n;
}

static void summary(void) {
    for (int n = 0; n < ntasks; n++) {
        corio_task *t = reg[n];
        if (!t) {
            printf("final T%d unspawned\n", n);
            continue;
        }
        int rc = corio_task_result(t);
        if (rc == -EINPROGRESS)
            printf("final T%d pending\n", n);
        else if (rc == -ECANCELED)
            printf("final T%d cancelled\n", n);
        else if (rc < 0)
            printf("final T%d %s\n", n, ename(rc));
        else
            printf("final T%d %d\n", n, rc);
    }
    for (int i = 0; i < nfut; i++) {
        intptr_t v;
        int rc = corio_future_result(&fut[i], &v);
        if (rc == -EINPROGRESS)
            printf("final F%d pending\n", i);
        else if (rc == -ECANCELED)
            printf("final F%d cancelled\n", i);
        else if (rc < 0)
            printf("final F%d %s\n", i, ename(rc));
        else
            printf("final F%d %ld\n", i, (long)v);
    }
    for (int i = 0; i < nev; i++) printf("final E%d %d\n", i, corio_event_is_set(&ev[i]));
    for (int i = 0; i < nq; i++) printf("final Q%d size %zu\n", i, corio_queue_size(&queue[i]));
    for (int i = 0; i < nlock; i++) printf("final L%d %d\n", i, corio_lock_locked(&lock[i]));
    for (int i = 0; i < nsem; i++) printf("final S%d %ld\n", i, corio_semaphore_value(&sem[i]));
    static const char *const bar_state[] = {"filling", "draining", "resetting", "broken"};
    for (int i = 0; i < nbar; i++)
        printf("final B%d %zu %s\n", i, corio_barrier_n_waiting(&bar[i]), bar_state[corio_barrier_state(&bar[i])]);
}

static int driver(void *arg) {
    (void)arg;
    if (eager) corio_loop_set_eager_tasks(corio_loop_current(), 1);
    for (int i = 0; i < nev; i++) corio_event_init(&ev[i]);
    for (int i = 0; i < nfut; i++) corio_future_init(&fut[i], NULL);
    for (int i = 0; i < nlock; i++) corio_lock_init(&lock[i]);
    for (int i = 0; i < nsem; i++)
        (sem_bounded[i] ? corio_semaphore_init_bounded : corio_semaphore_init)(&sem[i], sem_init[i]);
    for (int i = 0; i < ncond; i++) corio_condition_init(&cond[i], NULL);
    for (int i = 0; i < nbar; i++) corio_barrier_init(&bar[i], bar_parties[i]);
    for (int i = 0; i < nq; i++) corio_queue_init(&queue[i], q_kind[i], q_size[i], prio_cmp);
    start(0, NULL);
    for (int i = 0; i < iters; i++) corio_yield();
    if (settle > 0) corio_sleep(settle);
    /* As sched_py.py: cancel every unfinished task once a round. */
    for (int rounds = 0;; rounds++) {
        int left[MAXT], nleft = 0;
        for (int i = 0; i < norder; i++)
            if (!corio_task_done(reg[order[i]])) left[nleft++] = order[i];
        if (nleft == 0) break;
        if (rounds == MAX_ROUNDS) {
            printf("drv stuck");
            for (int i = 0; i < nleft; i++) printf(" T%d", left[i]);
            printf("\n");
            fflush(stdout);
            _exit(3); /* tasks that never finish: no orderly close */
        }
        for (int i = 0; i < nleft; i++) printf("drv cancel T%d -> %d\n", left[i], corio_cancel(reg[left[i]]));
        corio_yield();
    }
    for (int i = 0; i < TAIL; i++) corio_yield();
    summary();
    for (int i = 0; i < norder; i++) corio_task_detach(reg[order[i]]);
    for (int i = 0; i < nq; i++) corio_queue_destroy(&queue[i]);
    for (int i = 0; i < nfut; i++) corio_future_destroy(&fut[i]);
    for (int i = 0; i < ncond; i++) corio_condition_destroy(&cond[i]);
    for (int i = 0; i < nbar; i++) corio_barrier_destroy(&bar[i]);
    for (int i = 0; i < nsem; i++) corio_semaphore_destroy(&sem[i]);
    for (int i = 0; i < nlock; i++) corio_lock_destroy(&lock[i]);
    for (int i = 0; i < nev; i++) corio_event_destroy(&ev[i]);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PROGRAM\n", argv[0]);
        return 2;
    }
    parse(argv[1]);
    if (virtual_clock) setenv("CORIO_VIRTUAL_CLOCK", "1", 1);
    int rc = corio_run(driver, NULL);
    fflush(stdout);
    if (rc != 0) {
        fprintf(stderr, "sched_c: corio_run: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
