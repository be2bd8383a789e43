/*
 * os.h - the OS layer's shared parts: the executor (threads), files,
 * signals and processes.  docs/design.md, "Layers".
 */
#ifndef CORIO_SRC_OS_H
#define CORIO_SRC_OS_H

#include "../io/io.h"

/* executor.c / signal.c: their loop-close hooks (src/subsystems.c), run
 * once the loop's tasks have unwound.  The executor's returns 1 when it
 * reported something left over (close returns -ENOTEMPTY). */
int corio__executor_loop_close(corio_loop *loop);
void corio__signal_loop_close(corio_loop *loop);

/* signal.c, for runner.c (asyncio.Runner.run gives SIGINT back only if its
 * own handler is still the one installed): remove loop's handler for
 * signum if it is still cb with arg; the loop need not be running.
 * Returns 0 when removed, 1 when removed and a signal for it had arrived
 * but not been dispatched yet (it is dropped), -ENOENT when the handler
 * is another one, or none: then nothing is done. */
int corio__signal_take_back(corio_loop *loop, int signum, corio_signal_cb cb, void *arg);

/* ---- executor jobs on the caller's memory (executor.c, for file.c) ----------- */

/* corio_run_in_executor, except that a job that started is waited for even
 * when the task is cancelled: its result is returned (0, *result) and the
 * cancellation re-armed for the next suspension point.  A queued job is
 * removed (-ECANCELED).  So the job may use the task's stack and buffers. */
int corio__run_in_executor_pinned(corio_executor *ex, corio_work_fn fn, void *arg, intptr_t *result);


#endif
