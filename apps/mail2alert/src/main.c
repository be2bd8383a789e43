/*
 * main.c - mail2alert: an SMTP proxy that rewrites the recipients of
 * build-server mails by rules (magnus-lycka/mail2alert 0.2.9's behaviour)
 * on corio, corio-smtp and corio-http's client.
 *
 *     mail2alert --serve | --test
 *
 * The one deliberate change from the original: forwarding does not block
 * anything else.  Each mail's session task forwards it (a first attempt
 * before the 250 reply, so a client that saw 250 normally finds the mail
 * at the next hop, as with the original); a mail the next hop did not
 * take is handed to a retry task of its own and the client still gets
 * 250.  A retry task tries again with doubling pauses for retry-for
 * seconds, then logs the mail at ERROR and writes it to spool-dir if one
 * is configured; at shutdown the mails still waiting are logged and
 * spooled the same way, never dropped silently.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "m2a.h"

#include <corio.h>
#include <corio/http_client.h>
#include <corio/smtp.h>
#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The original fetches with aiohttp.Timeout(10). */
#define HTTP_TIMEOUT 10.0
/* Seconds the forwarding client waits for the next hop's each reply. */
#define FORWARD_TIMEOUT 30.0
/* At shutdown, sessions get this long to finish before they are cut. */
#define SHUTDOWN_GRACE 10.0
/* Connections to remote-smtp kept open between mails: a new connection,
 * EHLO and QUIT per mail (what the original does) cost more than the
 * mail itself (measured: 5010 mails/s with a connection per mail, 10
 * senders, 14602 with the pool; bench/run.sh).  At most this many idle ones, each
 * for at most POOL_IDLE seconds (well under aiosmtpd's 300 s timeout). */
#define POOL_MAX 32
#define POOL_IDLE 30.0

typedef struct app app;

/* A pipeline-groups fetch in flight: mails that have no groups at all wait
 * for it; its memory goes with the last of the fetching task and them. */
typedef struct fetch {
    corio_event done;
    int refs;
} fetch;

/* A mail to forward. */
typedef struct job {
    app *a;
    char *from;
    m2a_strv rcpts;
    m2a_buf data;
    double started;   /* loop time of the first attempt */
    int immediate;    /* reply-first: the retry task makes the first attempt at once */
    int attempting;   /* an attempt is in progress (shutdown lets it finish) */
    int unrouted;     /* taken while the pipeline groups it needs were missing: routed by its retry task */
    struct job *next; /* the retry list */
    corio_task *task; /* its retry task */
} job;

struct app {
    m2a_config cfg;
    corio_http_session *http;
    corio_smtp_server *srv;
    corio_event stop;
    job *retrying;      /* mails waiting for a retry */
    size_t background;  /* fetch and slack tasks running */
    corio_event idle;   /* set when background drops to 0 */
    unsigned long seq;  /* spool file numbers */
    corio_smtp_client *pool[POOL_MAX]; /* idle connections to remote-smtp, newest last */
    double pool_since[POOL_MAX];       /* when each became idle */
    size_t pooled;
    int stopping;
};

static void fetch_unref(fetch *f) {
    if (--f->refs == 0) {
        corio_event_destroy(&f->done);
        free(f);
    }
}

static void bg_done(app *a) {
    if (--a->background == 0) corio_event_set(&a->idle);
}

/* GET url with the manager's basic auth: the body (malloc'd) or NULL. */
static char *http_get(app *a, const m2a_manager *m, const char *path, size_t *len) {
    char url[2048];
    snprintf(url, sizeof url, "%s%s", m->url, path);
    m2a_log(M2A_DEBUG, "Fetching url %s", url);
    corio_http_request_opts ro = {0};
    ro.timeout.total = HTTP_TIMEOUT;
    if (m->user) {
        ro.auth_user = m->user;
        ro.auth_pass = m->passwd ? m->passwd : "";
    }
    corio_http_resp *r;
    int rc = corio_http_session_request(a->http, "GET", url, &ro, &r);
    if (rc < 0) {
        m2a_log(M2A_ERROR, "GET %s: %s (%s)", url, corio_http_client_strerror(rc), corio_http_client_errmsg());
        return NULL;
    }
    char *body = NULL;
    if (corio_http_resp_status(r) != 200) {
        m2a_log(M2A_ERROR, "GET %s: %d %s", url, corio_http_resp_status(r), corio_http_resp_reason(r));
    } else if ((rc = corio_http_resp_read_all(r, 64u << 20, &body, len)) < 0) {
        m2a_log(M2A_ERROR, "GET %s: %s", url, corio_http_client_strerror(rc));
        body = NULL;
    }
    corio_http_resp_free(r);
    return body;
}

typedef struct fetch_arg {
    app *a;
    m2a_manager *m;
    fetch *f;
} fetch_arg;

static int fetch_groups_task(void *arg) {
    fetch_arg fa = *(fetch_arg *)arg;
    free(arg);
    m2a_log(M2A_INFO, "Fetching pipeline groups");
    size_t len;
    char *body = http_get(fa.a, fa.m, "/api/config/pipeline_groups", &len);
    m2a_groups *g = NULL;
    if (body && m2a_parse_groups(body, len, &g) == 0) {
        m2a_groups_free(fa.m->groups);
        fa.m->groups = g;
        m2a_log(M2A_DEBUG, "Set pipeline groups config with %zu pipeline groups.", g->n);
    } else {
        m2a_log(M2A_WARNING, "Unable to fetch pipeline groups config.");
    }
    free(body);
    fa.m->fetch = NULL;
    corio_event_set(&fa.f->done);
    fetch_unref(fa.f);
    bg_done(fa.a);
    return 0;
}

/* Start a fetch of m's pipeline groups unless one is in flight. */
static int start_fetch(app *a, m2a_manager *m) {
    if (m->fetch) return 0;
    fetch *f = calloc(1, sizeof *f);
    fetch_arg *fa = malloc(sizeof *fa);
    if (!f || !fa) {
        free(f);
        free(fa);
        return -ENOMEM;
    }
    corio_event_init(&f->done);
    f->refs = 1;
    *fa = (fetch_arg){a, m, f};
    corio_task *t = corio_spawn(fetch_groups_task, fa);
    if (!t) {
        corio_event_destroy(&f->done);
        free(f);
        free(fa);
        return -errno;
    }
    corio_task_detach(t);
    a->background++;
    corio_event_clear(&a->idle);
    m->groups_time = corio_time();
    m->fetch = f;
    return 0;
}

/* The groups a mail for m should use: a refresh is started when they are
 * old (or missing); only when there are none at all does the mail wait
 * for it. */
static void ensure_groups(app *a, m2a_manager *m) {
    /* With no groups at all, every mail that needs them asks again (one
     * fetch at a time), whatever the age of the last attempt. */
    if (!m->fetch && (!m->groups || corio_time() > m->groups_time + a->cfg.groups_max_age)) start_fetch(a, m);
    if (!m->groups && m->fetch) {
        fetch *f = m->fetch;
        f->refs++;
        corio_event_wait(&f->done);
        fetch_unref(f);
    }
}

/* ---- slack ---------------------------------------------------------------------- */

typedef struct slack_post {
    app *a;
    char *channel, *body;
} slack_post;

static int form_add(m2a_buf *b, const char *key, const char *val) {
    static const char hex[] = "0123456789ABCDEF";
    if (b->len && m2a_buf_add(b, "&", 1) < 0) return -ENOMEM;
    if (m2a_buf_adds(b, key) < 0 || m2a_buf_add(b, "=", 1) < 0) return -ENOMEM;
    for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 strchr("-._~", *p);
        if (ok ? m2a_buf_add(b, p, 1) < 0 : m2a_buf_add(b, e, 3) < 0) return -ENOMEM;
    }
    return 0;
}

static int slack_task(void *arg) {
    slack_post *sp = arg;
    app *a = sp->a;
    char url[2048];
    snprintf(url, sizeof url, "%s/chat.postMessage", a->cfg.slack_url);
    static const corio_http_field hdr[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
    corio_http_request_opts ro = {0};
    ro.headers = hdr;
    ro.num_headers = 1;
    ro.body = sp->body;
    ro.body_len = strlen(sp->body);
    ro.timeout.total = HTTP_TIMEOUT;
    corio_http_resp *r;
    int rc = corio_http_session_request(a->http, "POST", url, &ro, &r);
    if (rc < 0) {
        m2a_log(M2A_ERROR, "SlackMessage.post: error=%s (%s)", corio_http_client_strerror(rc),
                corio_http_client_errmsg());
        m2a_log(M2A_ERROR, "SlackMessage.post: channel=%s", sp->channel);
    } else {
        char *body = NULL;
        size_t len;
        corio_http_resp_read_all(r, 1 << 20, &body, &len);
        json_t *j = body ? json_loads(body, 0, NULL) : NULL;
        if (corio_http_resp_status(r) != 200 || !j || !json_is_true(json_object_get(j, "ok"))) {
            m2a_log(M2A_ERROR, "SlackMessage.post: error=%d %s", corio_http_resp_status(r), body ? body : "");
            m2a_log(M2A_ERROR, "SlackMessage.post: channel=%s", sp->channel);
        }
        json_decref(j);
        free(body);
        corio_http_resp_free(r);
    }
    free(sp->channel);
    free(sp->body);
    free(sp);
    bg_done(a);
    return 0;
}

/* Post the mail to each slack action's channel, in the background. */
static void post_slack(app *a, const m2a_manager *m, const m2a_msg *msg, const char *data, size_t len,
                       const m2a_strv *slack) {
    char *body = m2a_body_text(data, len);
    char *from = m2a_header(data, len, "From");
    for (size_t i = 0; i + 1 < slack->n; i += 2) {
        const char *channel = slack->v[i], *style = slack->v[i + 1];
        int full = strcmp(style, "full") == 0;
        if (!full && strcmp(style, "brief") != 0) {
            m2a_log(M2A_ERROR, "Don't know slack message style: %s", style);
            continue;
        }
        m2a_log(M2A_INFO, "SlackMessage.post %s to %s", style, channel);
        char text[1024];
        if (full) snprintf(text, sizeof text, "Message from: %s", from ? from : "None");
        else text[0] = 0;
        const char *b = body ? body : "";
        size_t bl = full ? strlen(b) : strcspn(b, "\n");
        json_t *att = json_pack("[{s:s, s:s%, s:s}]", "title", msg->subject ? msg->subject : "", "text", b, bl,
                                "color", m2a_alert_color(m->kind, msg->event));
        char *atts = att ? json_dumps(att, JSON_COMPACT) : NULL;
        json_decref(att);
        m2a_buf form = {0};
        slack_post *sp = calloc(1, sizeof *sp);
        int ok = atts && sp && form_add(&form, "token", a->cfg.slack_token ? a->cfg.slack_token : "") == 0 &&
                 form_add(&form, "channel", channel) == 0 && form_add(&form, "text", text) == 0 &&
                 form_add(&form, "attachments", atts) == 0;
        free(atts);
        corio_task *t = NULL;
        if (ok) {
            sp->a = a;
            sp->channel = strdup(channel);
            sp->body = form.p;
            if (sp->channel) t = corio_spawn(slack_task, sp);
        }
        if (!t) {
            m2a_log(M2A_ERROR, "SlackMessage.post: could not start the post to %s", channel);
            if (sp) free(sp->channel);
            free(sp);
            free(form.p);
            continue;
        }
        corio_task_detach(t);
        a->background++;
        corio_event_clear(&a->idle);
    }
    free(body);
    free(from);
}

/* ---- forwarding ----------------------------------------------------------------- */

/* ['a', 'b'] as Python prints a list, for the log. */
static void list_repr(const m2a_strv *v, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "[");
    for (size_t i = 0; i < v->n && n < cap; i++) n += (size_t)snprintf(out + n, cap - n, "%s'%s'", i ? ", " : "", v->v[i]);
    if (n < cap) snprintf(out + n, cap - n, "]");
}

static void job_free(job *j) {
    free(j->from);
    m2a_strv_free(&j->rcpts);
    free(j->data.p);
    free(j);
}

static int write_all(const char *path, const void *p, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    const char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = -errno;
            close(fd);
            return e;
        }
        b += w;
        n -= (size_t)w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) return -errno;
    return 0;
}

/* Give up on a mail: ERROR with its envelope, and into the spool. */
static void give_up(job *j, const char *why) {
    app *a = j->a;
    char list[2048];
    list_repr(&j->rcpts, list, sizeof list);
    if (!a->cfg.spool_dir) {
        m2a_log(M2A_ERROR, "Undelivered mail (%s): MAIL FROM:<%s> to %s, %zu bytes; no spool-dir configured, mail lost",
                why, j->from, list, j->data.len);
        return;
    }
    char base[PATH_MAX], path[PATH_MAX + 8];
    snprintf(base, sizeof base, "%s/%ld-%d-%06lu", a->cfg.spool_dir, (long)time(NULL), (int)getpid(), ++a->seq);
    snprintf(path, sizeof path, "%s.eml", base);
    int rc = write_all(path, j->data.p, j->data.len);
    if (rc == 0) {
        m2a_buf env = {0};
        rc = m2a_buf_adds(&env, "MAIL FROM:<") == 0 && m2a_buf_adds(&env, j->from) == 0 &&
                     m2a_buf_adds(&env, ">\n") == 0 ? 0 : -ENOMEM;
        for (size_t i = 0; i < j->rcpts.n && rc == 0; i++)
            if (m2a_buf_adds(&env, "RCPT TO:<") < 0 || m2a_buf_adds(&env, j->rcpts.v[i]) < 0 ||
                m2a_buf_adds(&env, ">\n") < 0)
                rc = -ENOMEM;
        snprintf(path, sizeof path, "%s.env", base);
        if (rc == 0) rc = write_all(path, env.p, env.len);
        free(env.p);
    }
    if (rc < 0)
        m2a_log(M2A_ERROR, "Undelivered mail (%s): MAIL FROM:<%s> to %s, %zu bytes; spooling to %s failed: %s; mail lost",
                why, j->from, list, j->data.len, base, strerror(-rc));
    else
        m2a_log(M2A_ERROR, "Undelivered mail (%s): MAIL FROM:<%s> to %s, %zu bytes; spooled as %s.eml", why, j->from,
                list, j->data.len, base);
}

/*
 * One attempt to hand the mail to remote-smtp.  Returns 0 when nothing is
 * left to do (delivered, or refused for good: logged and spooled), 1 when
 * the mail (or some of its recipients, left in j->rcpts) should be tried
 * again.
 */
static void pool_put(app *a, corio_smtp_client *c) {
    if (a->pooled == POOL_MAX || a->stopping) {
        corio_smtp_client_quit(c);
        corio_smtp_client_free(c);
        return;
    }
    a->pool_since[a->pooled] = corio_time();
    a->pool[a->pooled++] = c;
}

/* An idle connection that is not too old, or NULL. */
static corio_smtp_client *pool_get(app *a) {
    while (a->pooled) {
        corio_smtp_client *c = a->pool[--a->pooled];
        if (corio_time() - a->pool_since[a->pooled] < POOL_IDLE) return c;
        corio_smtp_client_free(c); /* stale: the server may have dropped it */
    }
    return NULL;
}

static void pool_drain(app *a) {
    while (a->pooled) {
        corio_smtp_client *c = a->pool[--a->pooled];
        corio_smtp_client_quit(c);
        corio_smtp_client_free(c);
    }
}

/* A connection failure on a reused connection, before the server said
 * anything about this mail: the server had closed it; try a new one. */
static int stale_connection(int rc) {
    return rc == -ECONNRESET || rc == -EPIPE || rc == -ENOTCONN || rc == -ECONNABORTED || rc == CORIO_SMTP_EPROTO ||
           rc == -EIO || rc == -ESHUTDOWN;
}

static int deliver(job *j) {
    app *a = j->a;
    corio_smtp_client_opts co = {.timeout = FORWARD_TIMEOUT};
    corio_smtp_client *c = pool_get(a);
    int reused = c != NULL, rc = 0;
again:
    if (!c) rc = corio_smtp_client_connect(a->cfg.remote_host, a->cfg.remote_port, &co, &c);
    if (rc < 0) {
        if (rc == CORIO_SMTP_EREPLY && c && corio_smtp_client_code(c) >= 500) {
            m2a_log(M2A_ERROR, "remote-smtp %s:%d refused the connection: %d %s", a->cfg.remote_host,
                    a->cfg.remote_port, corio_smtp_client_code(c), corio_smtp_client_text(c));
        } else {
            m2a_log(M2A_WARNING, "remote-smtp %s:%d: %s", a->cfg.remote_host, a->cfg.remote_port,
                    rc == CORIO_SMTP_EREPLY && c ? corio_smtp_client_text(c) : corio_strerror(rc));
        }
        corio_smtp_client_free(c);
        return rc == -ECANCELED ? -ECANCELED : 1;
    }
    corio_smtp_rcpt_result *res = calloc(j->rcpts.n, sizeof *res);
    if (!res) {
        corio_smtp_client_free(c);
        return 1;
    }
    rc = corio_smtp_client_send(c, j->from, (const char *const *)j->rcpts.v, j->rcpts.n, j->data.p, j->data.len, res);
    if (reused && (stale_connection(rc) || (rc == CORIO_SMTP_EREPLY && corio_smtp_client_code(c) == 421))) {
        corio_smtp_client_free(c);
        c = NULL;
        reused = 0;
        free(res);
        goto again;
    }
    int again = 0;
    if (rc == 0 || rc == CORIO_SMTP_ERECIPIENTS) {
        /* Per recipient: 4xx comes again later, 5xx is final. */
        m2a_strv later = {0}, refused = {0};
        for (size_t i = 0; i < j->rcpts.n; i++) {
            if (res[i].code >= 200 && res[i].code < 300) continue;
            if (res[i].code >= 500) {
                m2a_log(M2A_INFO, "we got some refusals: {'%s': (%d, '%s')}", j->rcpts.v[i], res[i].code, res[i].text);
                m2a_strv_add(&refused, j->rcpts.v[i]);
            } else {
                m2a_strv_add(&later, j->rcpts.v[i]);
            }
        }
        if (refused.n) {
            job tmp = *j;
            tmp.rcpts = refused;
            give_up(&tmp, "recipients refused");
        }
        m2a_strv_free(&refused);
        m2a_strv_free(&j->rcpts);
        j->rcpts = later;
        again = later.n > 0;
    } else if (rc == CORIO_SMTP_EREPLY && corio_smtp_client_code(c) >= 500) {
        char why[512];
        snprintf(why, sizeof why, "refused: %d %s", corio_smtp_client_code(c), corio_smtp_client_text(c));
        give_up(j, why);
    } else if (rc == -ENOTSUP) {
        /* A UTF-8 address and a next hop without SMTPUTF8: no retry can
         * change that (corio-smtp refuses before sending anything). */
        char why[512];
        snprintf(why, sizeof why, "not sent: %s", corio_smtp_client_text(c));
        give_up(j, why);
    } else {
        m2a_log(M2A_WARNING, "forwarding to %s:%d failed: %s", a->cfg.remote_host, a->cfg.remote_port,
                rc == CORIO_SMTP_EREPLY ? corio_smtp_client_text(c) : corio_strerror(rc));
        again = rc == -ECANCELED ? -ECANCELED : 1;
    }
    free(res);
    /* A connection that answered (accepted or refused) is kept for the
     * next mail; one that failed is closed. */
    if (rc == 0 || rc == CORIO_SMTP_ERECIPIENTS || rc == -ENOTSUP ||
        (rc == CORIO_SMTP_EREPLY && corio_smtp_client_code(c) != 421))
        pool_put(a, c);
    else
        corio_smtp_client_free(c);
    return again;
}

/*
 * Route a mail (its content with the X-Peer line in *data, its envelope
 * recipients in *rcpts) as the original's handle_DATA does: the first
 * manager that wants it rewrites the recipients from its rules and the
 * To/From headers.  0: *rcpts is the new list (empty: drop the mail) and
 * *data the rewritten content; -EAGAIN: a rule needs pipeline groups and
 * none could be fetched yet (nothing changed, the subject has not touched
 * the history); another negative errno on failure.
 */
static int route(app *a, const char *from, m2a_buf *data, m2a_strv *rcpts) {
    m2a_buf out = {0};
    m2a_strv slack = {0};
    int rc = 0;
    for (size_t i = 0; i < a->cfg.n_managers; i++) {
        m2a_manager *m = &a->cfg.managers[i];
        if (!m2a_wants(m, from, (const char *const *)rcpts->v, rcpts->n)) continue;
        if (m->kind == M2A_MGR_GOCD) ensure_groups(a, m);
        m2a_strv mine = {0};
        m2a_msg msg;
        rc = m2a_process(m, data->p, data->len, &mine, &slack, &msg);
        if (rc == 0 && slack.n) post_slack(a, m, &msg, data->p, data->len, &slack);
        m2a_msg_clear(&msg);
        if (rc == -EAGAIN)
            m2a_log(M2A_WARNING, "No pipeline groups from %s yet: mail from %s held until they come", m->url, from);
        if (rc < 0) {
            m2a_strv_free(&mine);
            break;
        }
        m2a_strv_free(rcpts);
        *rcpts = mine;
        if (rcpts->n) {
            rc = m2a_update_to_from(data->p, data->len, (const char *const *)rcpts->v, rcpts->n, from, &out);
            if (rc < 0) break;
            m2a_buf t = *data;
            *data = out;
            out = t;
        }
        break;
    }
    free(out.p);
    m2a_strv_free(&slack);
    return rc;
}

static void unlink_retry(job *j) {
    for (job **p = &j->a->retrying; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            return;
        }
}

static int retry_task(void *arg) {
    job *j = arg;
    app *a = j->a;
    double delay = a->cfg.retry_first_delay;
    int first = j->immediate;
    for (;;) {
        if (!first) {
            double deadline = j->started + a->cfg.retry_for;
            double left = deadline - corio_time();
            if (left <= 0) {
                give_up(j, "retried too long");
                break;
            }
            if (corio_sleep(delay < left ? delay : left) < 0) {
                give_up(j, "shutting down");
                break;
            }
            if (corio_time() >= deadline) {
                give_up(j, "retried too long");
                break;
            }
            m2a_log(M2A_INFO, "Retrying mail from %s (%zu recipients)", j->from, j->rcpts.n);
        }
        j->attempting = 1;
        int rc = 1;
        if (j->unrouted) {
            /* Held for the pipeline groups: routed now if they came. */
            int r = route(a, j->from, &j->data, &j->rcpts);
            if (r == 0) {
                j->unrouted = 0;
                if (!j->rcpts.n) {
                    j->attempting = 0;
                    m2a_log(M2A_INFO, "Dropping email.");
                    break;
                }
            } else if (r != -EAGAIN) {
                j->attempting = 0;
                give_up(j, corio_strerror(r));
                break;
            } else if (corio_task_cancelling(corio_current_task()) > 0) {
                j->attempting = 0; /* shutdown cancelled the wait for the groups */
                give_up(j, "shutting down before the pipeline groups came");
                break;
            }
        }
        if (!j->unrouted) rc = deliver(j);
        j->attempting = 0;
        if (first && rc > 0) m2a_log(M2A_WARNING, "Mail from %s queued for retry", j->from);
        first = j->immediate = 0;
        if (rc == -ECANCELED) {
            give_up(j, "shutting down");
            break;
        }
        if (rc == 0) break;
        delay *= 2;
        if (delay > a->cfg.retry_max_delay) delay = a->cfg.retry_max_delay;
    }
    unlink_retry(j);
    job_free(j);
    return 0;
}

/* Hand j to a retry task of its own, on the app's retry list: 1.  When no
 * task can be made, j is given up (`why`: logged, spooled) and freed: 0. */
static int start_retry(job *j, const char *why) {
    j->task = corio_spawn(retry_task, j);
    if (!j->task) {
        give_up(j, why);
        job_free(j);
        return 0;
    }
    corio_task_detach(j->task);
    j->next = j->a->retrying;
    j->a->retrying = j;
    return 1;
}

/* ---- the SMTP handler ----------------------------------------------------------- */

static int on_data(corio_smtp_session *s, corio_smtp_envelope *env, corio_smtp_reply *reply) {
    app *a = s->arg;
    m2a_buf data = {0};
    m2a_strv rcpts = {0};
    int rc = m2a_insert_xpeer((const char *)env->content, env->content_len, s->peer_ip ? s->peer_ip : "", &data);
    for (size_t i = 0; i < env->rcpt_count && rc == 0; i++) rc = m2a_strv_add(&rcpts, env->rcpt_tos[i]);
    if (rc < 0) goto fail;
    /* The client always gets 250: a mail whose rules need pipeline groups
     * that could not be fetched yet is held and routed by a retry task once
     * they come (retry-first-delay doubling up to retry-max-delay, for
     * retry-for), else logged and spooled with its original envelope. */
    int held = (rc = route(a, env->mail_from, &data, &rcpts)) == -EAGAIN;
    if (rc < 0 && !held) goto fail;
    if (!held && rcpts.n == 0) {
        m2a_log(M2A_INFO, "Dropping email.");
        goto out;
    }
    if (!held && m2a_log_level() <= M2A_INFO) { /* the list is formatted only when it is logged */
        char list[2048];
        list_repr(&rcpts, list, sizeof list);
        m2a_log(M2A_INFO, "Sending mail to %s", list);
    }
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->from = strdup(env->mail_from))) {
        free(j);
        rc = -ENOMEM;
        goto fail;
    }
    j->a = a;
    j->rcpts = rcpts;
    j->data = data;
    memset(&rcpts, 0, sizeof rcpts);
    memset(&data, 0, sizeof data);
    j->started = corio_time();
    if (held) { /* 250 now; the retry task routes it when the groups come */
        j->unrouted = 1;
        start_retry(j, "could not start waiting for the pipeline groups");
        goto out;
    }
    if (a->cfg.reply_first) { /* 250 now; the retry task makes the first attempt */
        j->immediate = 1;
        start_retry(j, "could not start forwarding");
        goto out;
    }
    rc = deliver(j);
    if (rc <= 0) { /* done, or the session was cut: its client did not see 250 */
        job_free(j);
        goto out;
    }
    /* Taken (the client gets 250) but not delivered yet: retried on its own. */
    if (start_retry(j, "could not start a retry")) m2a_log(M2A_WARNING, "Mail from %s queued for retry", j->from);
    goto out;
fail:
    m2a_log(M2A_ERROR, "handle_DATA failed: %s", corio_strerror(rc));
    corio_smtp_reply_set(reply, "451 4.3.0 Error: %s", corio_strerror(rc));
out:
    free(data.p);
    m2a_strv_free(&rcpts);
    return 0;
}

/* ---- --serve -------------------------------------------------------------------- */

static void on_signal(int signum, void *arg) {
    app *a = arg;
    m2a_log(M2A_INFO, "Got signal %d, stopping", signum);
    if (a->stopping++ && a->srv) corio_smtp_server_close(a->srv, 1);
    corio_event_set(&a->stop);
}

static int wait_closed_task(void *arg) { return corio_smtp_server_wait_closed(arg); }

/* The log writer: lines logged while a mail is handled (the GoCD
 * history's WARNING on every alert of a broken pipeline) are written
 * once the mail's task has suspended, i.e. after its forward is sent,
 * while the next hop works, instead of before the forward. */
typedef struct log_writer {
    corio_event ready;
    int stop;
} log_writer;

static void log_wake(void *arg) { corio_event_set(&((log_writer *)arg)->ready); }

static int log_task(void *arg) {
    log_writer *w = arg;
    while (!w->stop && corio_event_wait(&w->ready) == 0) {
        corio_event_clear(&w->ready);
        m2a_log_flush();
    }
    m2a_log_defer(NULL, NULL);
    return 0;
}

static int serve_main(void *arg) {
    app *a = arg;
    corio_event_init(&a->stop);
    corio_event_init(&a->idle);
    corio_event_set(&a->idle);
    int rc = 0;
    /* Static: the writer outlives this frame if the join below is cut short. */
    static log_writer lw;
    lw.stop = 0;
    corio_event_init(&lw.ready);
    corio_task *lt = NULL;
    a->http = corio_http_session_new(NULL);
    if (!a->http) {
        m2a_log(M2A_CRITICAL, "cannot make an HTTP session: %s", strerror(errno));
        rc = -errno;
        goto out;
    }
    corio_add_signal_handler(SIGINT, on_signal, a);
    corio_add_signal_handler(SIGTERM, on_signal, a);
    lt = corio_spawn(log_task, &lw);
    if (lt) m2a_log_defer(log_wake, &lw);
    for (size_t i = 0; i < a->cfg.n_managers; i++) {
        m2a_manager *m = &a->cfg.managers[i];
        m2a_log(M2A_INFO, "Started <class 'mail2alert.plugin.%s.Manager'>", m->name);
        if (m->kind != M2A_MGR_GOCD) continue;
        if (!m->user) m2a_log(M2A_WARNING, "Missing user in configuration");
        m->groups_time = -INFINITY;
        m2a_log(M2A_INFO, "Fetching cctray");
        size_t len;
        char *xml = http_get(a, m, "/cctray.xml", &len);
        if (xml) m2a_parse_cctray(xml, len, &m->history);
        else m2a_log(M2A_WARNING, "Unable to fetch cctray.");
        free(xml);
        /* Fetch the groups now so that the first mail need not wait. */
        start_fetch(a, m);
    }
    static const corio_smtp_handler handler = {.data = on_data};
    corio_smtp_server_opts so = {.ident = "mail2alert (corio SMTP)"};
    rc = corio_smtp_server_start(a->cfg.local_host, a->cfg.local_port, &handler, a, &so, &a->srv);
    if (rc < 0) {
        m2a_log(M2A_CRITICAL, "cannot listen on %s:%d: %s", a->cfg.local_host, a->cfg.local_port, corio_strerror(rc));
        goto out;
    }
    m2a_log(M2A_INFO, "Serving SMTP on %s:%d, forwarding to %s:%d", a->cfg.local_host,
            corio_smtp_server_port(a->srv), a->cfg.remote_host, a->cfg.remote_port);
    if (!a->stopping) corio_event_wait(&a->stop);
    /* Stop accepting; the mails in progress finish (their first attempt
     * included); a session still open after the grace time is cut, its
     * client keeps the mail it had not seen 250 for. */
    corio_smtp_server_close(a->srv, 0);
    corio_task *w = corio_spawn(wait_closed_task, a->srv);
    if (w) {
        double end = corio_time() + SHUTDOWN_GRACE;
        while (!corio_task_done(w) && corio_time() < end)
            if (corio_sleep(0.05) < 0) break;
        if (!corio_task_done(w)) {
            m2a_log(M2A_WARNING, "Closing %zu sessions still open", corio_smtp_server_connections(a->srv));
            corio_smtp_server_close(a->srv, 1);
        }
        corio_join(w);
    }
    corio_smtp_server_free(a->srv);
    a->srv = NULL;
    /* Mails still waiting for a retry: logged and spooled by their tasks. */
    /* Attempts in progress (reply-first mails) finish first. */
    double end = corio_time() + SHUTDOWN_GRACE;
    for (;;) {
        int busy = 0;
        for (job *j = a->retrying; j; j = j->next) busy |= j->attempting || j->immediate;
        if (!busy || corio_time() > end || corio_sleep(0.01) < 0) break;
    }
    if (a->retrying) {
        size_t n = 0;
        for (job *j = a->retrying; j; j = j->next) n++, corio_cancel(j->task);
        m2a_log(M2A_WARNING, "%zu mails still waiting for a retry at shutdown", n);
        while (a->retrying) corio_sleep(0.01);
    }
    pool_drain(a);
    /* Fetches and Slack posts end by their own 10 s timeouts. */
    corio_event_wait(&a->idle);
out:
    if (lt) {
        lw.stop = 1;
        corio_event_set(&lw.ready);
        corio_join(lt);
    }
    corio_event_destroy(&lw.ready);
    corio_remove_signal_handler(SIGINT);
    corio_remove_signal_handler(SIGTERM);
    if (a->http) corio_http_session_close(a->http);
    corio_event_destroy(&a->stop);
    corio_event_destroy(&a->idle);
    m2a_log(M2A_INFO, "Stopped");
    return rc;
}

/* ---- --test --------------------------------------------------------------------- */

static int test_main(void *arg) {
    app *a = arg;
    a->http = corio_http_session_new(NULL);
    if (!a->http) return -errno;
    corio_event_init(&a->idle);
    int rc = 0;
    m2a_groups **groups = calloc(a->cfg.n_managers ? a->cfg.n_managers : 1, sizeof *groups);
    if (!groups) rc = -ENOMEM;
    for (size_t i = 0; i < a->cfg.n_managers && rc == 0; i++) {
        m2a_manager *m = &a->cfg.managers[i];
        m2a_log(M2A_INFO, "Started <class 'mail2alert.plugin.%s.Manager'>", m->name);
        if (m->kind != M2A_MGR_GOCD) continue;
        /* Only the last manager of a name is reported on. */
        int last = 1;
        for (size_t k = i + 1; k < a->cfg.n_managers; k++)
            if (strcmp(a->cfg.managers[k].name, m->name) == 0) last = 0;
        if (!last) continue;
        if (!m->user) m2a_log(M2A_WARNING, "Missing user in configuration");
        m2a_log(M2A_INFO, "Fetching pipeline groups");
        size_t len;
        char *body = http_get(a, m, "/api/config/pipeline_groups", &len);
        if (!body || m2a_parse_groups(body, len, &groups[i]) < 0) {
            m2a_log(M2A_ERROR, "Unable to fetch pipeline groups config.");
            fprintf(stderr, "mail2alert: --test needs the pipeline groups of %s\n", m->url);
            rc = -EIO;
        }
        free(body);
    }
    if (rc == 0) {
        m2a_buf o = {0};
        rc = m2a_report_yaml(&a->cfg, groups, &o);
        if (rc == 0) {
            /* print() adds a newline after the YAML's own. */
            fwrite(o.p, 1, o.len, stdout);
            fputc('\n', stdout);
            fflush(stdout);
        }
        free(o.p);
    }
    for (size_t i = 0; groups && i < a->cfg.n_managers; i++) m2a_groups_free(groups[i]);
    free(groups);
    corio_http_session_close(a->http);
    corio_event_destroy(&a->idle);
    return rc;
}

/* ---- the command line (argparse's behaviour) ------------------------------------ */

static const char usage_line[] = "usage: mail2alert [-h] [--serve | --test]\n";

static void help(void) {
    printf("%s\nRun mail2alert\n\noptions:\n"
           "  -h, --help  show this help message and exit\n"
           "  --serve     Normal operation\n"
           "  --test      Report on configuration and exit\n",
           usage_line);
}

static int arg_error(const char *fmt, const char *x, const char *y) {
    fputs(usage_line, stderr);
    fputs("mail2alert: error: ", stderr);
    fprintf(stderr, fmt, x, y);
    fputc('\n', stderr);
    return 2;
}

int main(int argc, char **argv) {
    setlocale(LC_CTYPE, "C.UTF-8");
    int serve = 0, test = 0;
    /* argparse accepts unambiguous prefixes of long options. */
    for (int i = 1; i < argc; i++) {
        const char *x = argv[i];
        size_t l = strlen(x);
        if (!strcmp(x, "-h") || (l >= 3 && !strncmp(x, "--help", l))) {
            help();
            return 0;
        }
        int is_serve = l >= 3 && !strncmp(x, "--serve", l);
        int is_test = l >= 3 && !strncmp(x, "--test", l);
        if (is_serve) {
            if (test) return arg_error("argument --serve: not allowed with argument --test", NULL, NULL);
            serve = 1;
        } else if (is_test) {
            if (serve) return arg_error("argument --test: not allowed with argument --serve", NULL, NULL);
            test = 1;
        } else if (!strcmp(x, "--")) {
            if (i + 1 < argc) return arg_error("unrecognized arguments: %s", argv[i + 1], NULL);
        } else {
            return arg_error("unrecognized arguments: %s", x, NULL);
        }
    }
    if (!serve && !test) {
        help();
        return 0;
    }
    m2a_log_set_level(m2a_loglevel_parse(getenv("LOGLEVEL")));
    const char *path = getenv("MAIL2ALERT_CONFIGURATION");
    if (!path || !*path) path = "configuration.yml";
    static app a;
    char err[512];
    int rc = m2a_config_load(path, &a.cfg, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "mail2alert: configuration: %s\n", err);
        return 1;
    }
    m2a_log(M2A_DEBUG, "read configuration from %s", path);
    if (m2a_init() < 0) {
        fprintf(stderr, "mail2alert: cannot compile the subject pattern\n");
        m2a_config_free(&a.cfg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = corio_run(serve ? serve_main : test_main, &a);
    m2a_config_free(&a.cfg);
    m2a_fini();
    if (rc < 0) {
        if (serve) fprintf(stderr, "mail2alert: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
