/*
 * subsystems.c - the assembly: the one file that names every layer, so
 * that the lower ones need not name the higher.  The loop (core) creates
 * and closes its per-loop parts through corio__subsystems, and futures
 * cancel through corio__future_kinds; both tables are here.
 * docs/design.md, "Layers".
 */
#include "os/os.h"
#include "flow/flow.h"

/* Order matters at close: the ring is drained before signal handlers go
 * and executor results are dropped (tasks first unwound, then the work
 * they started), and release runs in reverse, so the poller is freed last
 * of all (ring operations may point into buffers the others free). */
static int signal_unwound(corio_loop *loop) {
    corio__signal_loop_close(loop);
    return 0;
}

static void protocol_release(corio_loop *loop) {
    if (loop->ring_bufs) corio__proto_ring_free(loop);
}

const corio__subsystem corio__subsystems[] = {
    {"poller", corio__backend_loop_init, corio__backend_loop_unwound, corio__backend_loop_release},
    {"protocol buffers", NULL, NULL, protocol_release},
    {"signals", NULL, signal_unwound, NULL},
    {"executor", NULL, corio__executor_loop_close, NULL},
};
const size_t corio__nsubsystems = sizeof corio__subsystems / sizeof corio__subsystems[0];

static int task_cancel(corio_future *f, const corio__msg *msg) { return corio__task_cancel_msg((corio_task *)f, msg); }

const corio__future_kind corio__future_kinds[] = {
    [CORIO__FK_PLAIN] = {corio__future_cancel_plain},
    [CORIO__FK_TASK] = {task_cancel},
    [CORIO__FK_GATHER] = {corio__gather_cancel},
};
