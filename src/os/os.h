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

/* ---- executor jobs on the caller's memory (executor.c, for file.c) ----------- */

/* corio_run_in_executor, except that a job that started is waited for even
 * when the task is cancelled: its result is returned (0, *result) and the
 * cancellation re-armed for the next suspension point.  A queued job is
 * removed (-ECANCELED).  So the job may use the task's stack and buffers. */
int corio__run_in_executor_pinned(corio_executor *ex, corio_work_fn fn, void *arg, intptr_t *result);


#endif
