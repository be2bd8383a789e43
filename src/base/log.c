/*
 * log.c - the one logger hook, debug mode, and the error strings.
 */
#include "base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int corio__debug_on;
static int debug_checked;
static corio_log_fn log_fn;
static void *log_arg;

void corio__debug_init(void) {
    if (debug_checked) return;
    debug_checked = 1;
    const char *e = getenv("CORIO_DEBUG");
    if (e && *e && strcmp(e, "0") != 0) corio__debug_on = 1;
}

void corio_set_debug(int on) {
    debug_checked = 1;
    corio__debug_on = on != 0;
}

int corio_get_debug(void) {
    corio__debug_init();
    return corio__debug_on;
}

void corio_log_set_handler(corio_log_fn fn, void *arg) {
    log_fn = fn;
    log_arg = arg;
}

void corio__log(int level, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    if (!log_fn && level < CORIO_LOG_WARNING && !corio__debug_on) return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (log_fn) {
        log_fn(level, buf, log_arg);
        return;
    }
    static const char *const names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "corio %s: %s\n", names[level & 3], buf);
}

const char *corio_version(void) { return "0.1.0"; }

const char *corio_strerror(int err) {
    if (err == 0) return "Success";
    if (err > 0) return "Not an error code (expected a negative errno)";
    switch (err) { /* corio's own codes (net.h, stream.h, sync.h), beyond any errno */
    case CORIO_EAI_NONAME: return "Name or service not known";
    case CORIO_EAI_AGAIN: return "Temporary failure in name resolution";
    case CORIO_EAI_FAIL: return "Non-recoverable failure in name resolution";
    case CORIO_EAI_NODATA: return "No address associated with hostname";
    case CORIO_EAI_FAMILY: return "Address family not supported for name resolution";
    case CORIO_EINCOMPLETE: return "Incomplete read: end of stream before the expected data";
    case CORIO_EBROKEN_BARRIER: return "Barrier broken: aborted, or reset while waiting";
    default: break;
    }
    return strerror(-err);
}
