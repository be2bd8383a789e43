/*
 * corio.h - asyncio for C.  Include this one header.
 *
 * Conventions, everywhere in the API:
 *  - Errors are negative errno values (-ECANCELED, -ETIMEDOUT, ...);
 *    corio_strerror() names them.  Functions returning a pointer return
 *    NULL and set errno instead.
 *  - Calls marked SUSPENDS may only be made from a task (else -EPERM);
 *    they let the loop run other work until they return.
 *  - Time is in seconds as a double, as in asyncio; INFINITY means "never".
 */
#ifndef CORIO_H
#define CORIO_H

#include "corio/types.h"
#include "corio/loop.h"
#include "corio/future.h"
#include "corio/task.h"
#include "corio/context.h"
#include "corio/timeout.h"
#include "corio/combinators.h"
#include "corio/taskgroup.h"
#include "corio/sync.h"
#include "corio/queue.h"
#include "corio/io.h"
#include "corio/net.h"
#include "corio/stream.h"
#include "corio/protocol.h"
#include "corio/executor.h"
#include "corio/procpool.h"
#include "corio/signal.h"
#include "corio/process.h"
#include "corio/file.h"
#include "corio/debug.h"
#include "corio/agen.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CORIO_VERSION_MAJOR 0
#define CORIO_VERSION_MINOR 1
#define CORIO_VERSION_PATCH 0

/* "0.1.0" */
CORIO_API const char *corio_version(void);

/* A message for a negative errno (or 0): "Operation canceled", "Connection timed out", ... */
CORIO_API const char *corio_strerror(int err);

/* Log levels of corio_log_set_handler. */
enum { CORIO_LOG_DEBUG = 0, CORIO_LOG_INFO = 1, CORIO_LOG_WARNING = 2, CORIO_LOG_ERROR = 3 };

/* Receives every message the library emits; `msg` is valid during the call only. */
typedef void (*corio_log_fn)(int level, const char *msg, void *arg);

/*
 * Route the library's messages to fn (NULL restores the default: stderr,
 * warnings and above, or everything with CORIO_DEBUG=1).  The library
 * prints nothing except through this hook.  Process-wide.
 */
CORIO_API void corio_log_set_handler(corio_log_fn fn, void *arg);

/*
 * Debug mode (asyncio's debug mode): extra checks and messages saying what
 * was wrong when a call gets bad input.  On when the environment has
 * CORIO_DEBUG=1 at the first loop creation, or after corio_set_debug(1).
 * Never changes results.  Process-wide.
 */
CORIO_API void corio_set_debug(int on);
CORIO_API int corio_get_debug(void);

#ifdef __cplusplus
}
#endif
#endif
