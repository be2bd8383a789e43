/*
 * exception.c - the loop's exception handler (asyncio's
 * set_exception_handler, default_exception_handler, call_exception_handler).
 *
 * Every report of an error that nobody is there to be told goes through
 * corio__report, from every layer, so that one handler a program installs
 * sees them all.  Which reports these are follows asyncio: what it passes
 * to call_exception_handler comes here; what it logs with logger.warning
 * or logger.error directly (a slow callback, a socket file it cannot
 * remove, an unknown child) stays a plain log line.
 */
#include "core.h"

#include <stdarg.h>
#include <stdio.h>

int corio_loop_set_exception_handler(corio_loop *loop, corio_exception_handler handler, void *arg) {
    if (!loop) return corio__bad(-EINVAL, "corio_loop_set_exception_handler: NULL loop");
    loop->exc_handler = handler;
    loop->exc_arg = handler ? arg : NULL;
    return 0;
}

corio_exception_handler corio_loop_get_exception_handler(const corio_loop *loop, void **arg) {
    if (arg) *arg = loop ? loop->exc_arg : NULL;
    return loop ? loop->exc_handler : NULL;
}

void corio_loop_default_exception_handler(corio_loop *loop, const corio_exception_context *ctx) {
    (void)loop;
    const char *msg = ctx && ctx->message && *ctx->message ? ctx->message : "Unhandled exception in event loop";
    if (!ctx) {
        corio__log(CORIO_LOG_ERROR, "%s", msg);
        return;
    }
    /* The library's reports carry their particulars in detail, formatted
     * as corio has always logged them; a program's own report is spelled
     * out from its fields, as asyncio appends the context's keys. */
    if (ctx->detail) {
        corio__log(CORIO_LOG_ERROR, "%s: %s", msg, ctx->detail);
        return;
    }
    char err[96] = "";
    if (ctx->error) snprintf(err, sizeof err, ": %d (%s)", ctx->error, corio_strerror(ctx->error));
    if (ctx->task)
        corio__log(CORIO_LOG_ERROR, "%s (task '%s')%s", msg, corio_task_name(ctx->task), err);
    else
        corio__log(CORIO_LOG_ERROR, "%s%s", msg, err);
}

void corio_loop_call_exception_handler(corio_loop *loop, const corio_exception_context *ctx) {
    if (loop && loop->exc_handler) {
        loop->exc_handler(loop, ctx, loop->exc_arg);
        return;
    }
    corio_loop_default_exception_handler(loop, ctx);
}

void corio__report(corio_loop *loop, corio_exception_context *ctx, const char *detail_fmt, ...) {
    /* The detail lives on this frame for the handler's call; the logger's
     * own line is 512 bytes, so the default's text is cut no shorter than
     * it was when the reports were logged directly. */
    char detail[512];
    if (detail_fmt) {
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(detail, sizeof detail, detail_fmt, ap);
        va_end(ap);
        ctx->detail = detail;
    }
    corio_loop_call_exception_handler(loop, ctx);
    ctx->detail = NULL;
}
