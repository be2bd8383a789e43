/*
 * config.c - the log, the YAML configuration (libyaml's document API into
 * a small tree, every string scalar $VAR-expanded as the original's
 * os.path.expandvars pass) and its mapping onto managers and rules.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "m2a.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- log ------------------------------------------------------------------------ */

static int log_level = M2A_INFO;

int m2a_loglevel_parse(const char *t) {
    static const struct {
        const char *name;
        int level;
    } names[] = {{"CRITICAL", 50}, {"FATAL", 50}, {"ERROR", 40}, {"WARN", 30}, {"WARNING", 30},
                 {"INFO", 20},     {"DEBUG", 10}, {"NOTSET", 0}};
    if (!t) return M2A_INFO;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(t, names[i].name) == 0) return names[i].level;
    return M2A_INFO;
}

void m2a_log_set_level(int level) { log_level = level; }
int m2a_log_level(void) { return log_level; }

static const char *level_name(int level) {
    switch (level) {
    case 50: return "CRITICAL";
    case 40: return "ERROR";
    case 30: return "WARNING";
    case 20: return "INFO";
    case 10: return "DEBUG";
    default: return "NOTSET";
    }
}

/* Deferred lines (m2a_log_defer). */
static char log_buf[16384];
static size_t log_len;
static void (*log_wake)(void *);
static void *log_wake_arg;

static void write_stderr(const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* as fwrite on stderr: a log that cannot be written is not an error */
        p += w;
        n -= (size_t)w;
    }
}

void m2a_log_flush(void) {
    size_t n = log_len;
    log_len = 0;
    write_stderr(log_buf, n);
}

void m2a_log_defer(void (*wake)(void *), void *arg) {
    m2a_log_flush();
    log_wake = wake;
    log_wake_arg = arg;
}

void m2a_log(int level, const char *fmt, ...) {
    if (level < log_level) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    /* The seconds' text is made once per second, not per line (localtime
     * and strftime were a third of a logged mail's log line). */
    static time_t stamp_sec = (time_t)-1;
    static char stamp[32];
    if (tv.tv_sec != stamp_sec) {
        struct tm tm;
        localtime_r(&tv.tv_sec, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
        stamp_sec = tv.tv_sec;
    }
    /* One write per line, so lines of concurrent mails do not mix. */
    char line[4096];
    size_t sl = strlen(stamp), ms = (size_t)(tv.tv_usec / 1000);
    const char *ln = level_name(level);
    size_t ll = strlen(ln);
    memcpy(line, stamp, sl);
    size_t n = sl;
    line[n++] = ',';
    line[n++] = (char)('0' + ms / 100);
    line[n++] = (char)('0' + ms / 10 % 10);
    line[n++] = (char)('0' + ms % 10);
    line[n++] = ':';
    memcpy(line + n, ln, ll);
    n += ll;
    memcpy(line + n, ":root:", 6);
    n += 6;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (m < 0) return;
    n += (size_t)m;
    if (n >= sizeof line - 1) n = sizeof line - 2;
    line[n++] = '\n';
    if (!log_wake) {
        write_stderr(line, n);
        return;
    }
    if (log_len + n > sizeof log_buf) m2a_log_flush();
    if (log_len == 0) log_wake(log_wake_arg);
    memcpy(log_buf + log_len, line, n);
    log_len += n;
}

/* ---- expandvars ----------------------------------------------------------------- */

static int is_word(int c) { return isalnum(c) || c == '_'; }

char *m2a_expandvars(const char *s) {
    m2a_buf b = {0};
    if (m2a_buf_add(&b, "", 0) < 0) return NULL;
    const char *p = s;
    while (*p) {
        const char *d = strchr(p, '$');
        if (!d) {
            if (m2a_buf_adds(&b, p) < 0) goto fail;
            break;
        }
        if (m2a_buf_add(&b, p, (size_t)(d - p)) < 0) goto fail;
        const char *name = NULL, *end = NULL;
        size_t nlen = 0;
        if (d[1] == '{') {
            const char *c = strchr(d + 2, '}');
            if (c) {
                name = d + 2;
                nlen = (size_t)(c - name);
                end = c + 1;
            }
        } else if (is_word((unsigned char)d[1])) {
            name = d + 1;
            end = name;
            while (is_word((unsigned char)*end)) end++;
            nlen = (size_t)(end - name);
        }
        if (!name) { /* a lone $: kept */
            if (m2a_buf_add(&b, "$", 1) < 0) goto fail;
            p = d + 1;
            continue;
        }
        char *key = strndup(name, nlen);
        if (!key) goto fail;
        const char *val = getenv(key);
        free(key);
        if (val) {
            if (m2a_buf_adds(&b, val) < 0) goto fail;
        } else if (m2a_buf_add(&b, d, (size_t)(end - d)) < 0) {
            goto fail;
        }
        p = end;
    }
    return b.p;
fail:
    free(b.p);
    return NULL;
}

/* ---- YAML ----------------------------------------------------------------------- */

void m2a_node_free(m2a_node *n) {
    if (!n) return;
    free(n->str);
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) free(n->keys[i]);
        m2a_node_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n);
}

const m2a_node *m2a_node_get(const m2a_node *n, const char *key) {
    if (!n || n->type != M2A_MAP) return NULL;
    for (size_t i = n->n; i-- > 0;)
        if (strcmp(n->keys[i], key) == 0) return n->items[i];
    return NULL;
}

/* YAML 1.1 null as PyYAML resolves a plain scalar. */
static int yaml_is_null(const yaml_node_t *y) {
    if (y->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = (const char *)y->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static m2a_node *convert(yaml_document_t *doc, yaml_node_t *y, int depth) {
    if (!y || depth > 64) return NULL;
    m2a_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    switch (y->type) {
    case YAML_SCALAR_NODE:
        if (yaml_is_null(y)) {
            n->type = M2A_NULL;
        } else {
            n->type = M2A_STR;
            n->str = m2a_expandvars((const char *)y->data.scalar.value);
            if (!n->str) goto fail;
        }
        return n;
    case YAML_SEQUENCE_NODE: {
        n->type = M2A_SEQ;
        size_t cnt = (size_t)(y->data.sequence.items.top - y->data.sequence.items.start);
        n->items = calloc(cnt ? cnt : 1, sizeof *n->items);
        if (!n->items) goto fail;
        for (yaml_node_item_t *it = y->data.sequence.items.start; it < y->data.sequence.items.top; it++) {
            n->items[n->n] = convert(doc, yaml_document_get_node(doc, *it), depth + 1);
            if (!n->items[n->n]) goto fail;
            n->n++;
        }
        return n;
    }
    case YAML_MAPPING_NODE: {
        n->type = M2A_MAP;
        size_t cnt = (size_t)(y->data.mapping.pairs.top - y->data.mapping.pairs.start);
        n->items = calloc(cnt ? cnt : 1, sizeof *n->items);
        n->keys = calloc(cnt ? cnt : 1, sizeof *n->keys);
        if (!n->items || !n->keys) goto fail;
        for (yaml_node_pair_t *pr = y->data.mapping.pairs.start; pr < y->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(doc, pr->key);
            if (!k || k->type != YAML_SCALAR_NODE) goto fail;
            n->keys[n->n] = strdup((const char *)k->data.scalar.value);
            if (!n->keys[n->n]) goto fail;
            n->items[n->n] = convert(doc, yaml_document_get_node(doc, pr->value), depth + 1);
            if (!n->items[n->n]) {
                free(n->keys[n->n]);
                goto fail;
            }
            n->n++;
        }
        return n;
    }
    default:
        break;
    }
fail:
    m2a_node_free(n);
    return NULL;
}

m2a_node *m2a_yaml_parse(const char *text, size_t len, char *err, size_t cap) {
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        snprintf(err, cap, "YAML: %s at line %zu column %zu", p.problem ? p.problem : "syntax error",
                 p.problem_mark.line + 1, p.problem_mark.column + 1);
        yaml_parser_delete(&p);
        return NULL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    m2a_node *n = root ? convert(&doc, root, 0) : NULL;
    if (!n) snprintf(err, cap, root ? "YAML: unsupported structure (non-scalar key or nesting too deep)"
                                    : "YAML: empty document");
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return n;
}

/* ---- configuration -------------------------------------------------------------- */

int m2a_host_port(const char *text, int default_port, char **host, int *port) {
    const char *c = strchr(text, ':');
    if (!c) {
        *port = default_port;
        *host = strdup(text);
        return *host ? 0 : -ENOMEM;
    }
    if (strchr(c + 1, ':')) return -EINVAL; /* the original's split(':') wants exactly two parts */
    char *end;
    errno = 0;
    long v = strtol(c + 1, &end, 10);
    while (*end == ' ' || *end == '\t') end++; /* int(' 25 ') is 25 */
    if (c[1] == 0 || *end || errno || v < 0 || v > 65535) return -EINVAL;
    *port = (int)v;
    *host = strndup(text, (size_t)(c - text));
    return *host ? 0 : -ENOMEM;
}

static char *str_of(const m2a_node *n) { return n && n->type == M2A_STR ? strdup(n->str) : NULL; }

/* A list of strings (a lone string counts as a list of one). */
static int strlist(const m2a_node *n, char ***out, size_t *cnt, char *err, size_t cap, const char *what) {
    *out = NULL;
    *cnt = 0;
    if (!n || n->type == M2A_NULL) return 0;
    if (n->type == M2A_STR) {
        *out = calloc(1, sizeof **out);
        if (!*out || !((*out)[0] = strdup(n->str))) return -ENOMEM;
        *cnt = 1;
        return 0;
    }
    if (n->type != M2A_SEQ) {
        snprintf(err, cap, "%s: expected a list of strings", what);
        return -EINVAL;
    }
    *out = calloc(n->n ? n->n : 1, sizeof **out);
    if (!*out) return -ENOMEM;
    for (size_t i = 0; i < n->n; i++) {
        if (n->items[i]->type != M2A_STR) {
            snprintf(err, cap, "%s: item %zu is not a string", what, i + 1);
            return -EINVAL;
        }
        if (!((*out)[i] = strdup(n->items[i]->str))) return -ENOMEM;
        (*cnt)++;
    }
    return 0;
}

static void strlist_free(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static int parse_rule(int kind, const m2a_node *rn, m2a_rule *r, char *err, size_t cap, size_t mi, size_t ri) {
    char what[96];
    if (!rn || rn->type != M2A_MAP) {
        snprintf(err, cap, "managers[%zu].rules[%zu]: expected a mapping", mi, ri);
        return -EINVAL;
    }
    r->owner = str_of(m2a_node_get(rn, "owner"));
    r->name = str_of(m2a_node_get(rn, "name"));
    snprintf(what, sizeof what, "managers[%zu].rules[%zu].actions", mi, ri);
    int rc = strlist(m2a_node_get(rn, "actions"), &r->actions, &r->n_actions, err, cap, what);
    if (rc < 0) return rc;
    const m2a_node *f = m2a_node_get(rn, "filter");
    if (!f || f->type != M2A_MAP) {
        snprintf(err, cap, "managers[%zu].rules[%zu]: no filter with a function", mi, ri);
        return -EINVAL;
    }
    const m2a_node *ev = m2a_node_get(f, "events");
    if (ev) {
        r->has_events = 1;
        snprintf(what, sizeof what, "managers[%zu].rules[%zu].filter.events", mi, ri);
        rc = strlist(ev, &r->events, &r->n_events, err, cap, what);
        if (rc < 0) return rc;
    }
    snprintf(what, sizeof what, "managers[%zu].rules[%zu].filter.args", mi, ri);
    rc = strlist(m2a_node_get(f, "args"), &r->args, &r->n_args, err, cap, what);
    if (rc < 0) return rc;
    r->function_name = str_of(m2a_node_get(f, "function"));
    if (!r->function_name) {
        snprintf(err, cap, "managers[%zu].rules[%zu]: filter has no function", mi, ri);
        return -EINVAL;
    }
    /* The original looks the function up per mail and fails that mail
     * with a 500; we refuse the configuration at start instead. */
    static const struct {
        int kind;
        const char *name;
        int fn;
        size_t nargs;
    } fns[] = {{M2A_MGR_GOCD, "pipelines.any", M2A_FN_ANY, 0},
               {M2A_MGR_GOCD, "pipelines.all", M2A_FN_ANY, 0},
               {M2A_MGR_GOCD, "pipelines.in_group", M2A_FN_IN_GROUP, 1},
               {M2A_MGR_GOCD, "pipelines.name_like_in_group", M2A_FN_NAME_LIKE_IN_GROUP, 2},
               {M2A_MGR_MAIL, "mail.in_subject", M2A_FN_IN_SUBJECT, (size_t)-1}};
    size_t i;
    for (i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (fns[i].kind == kind && strcmp(fns[i].name, r->function_name) == 0) break;
    if (i == sizeof fns / sizeof fns[0]) {
        snprintf(err, cap, "managers[%zu].rules[%zu]: unknown filter function '%s' for a %s manager", mi, ri,
                 r->function_name, kind == M2A_MGR_GOCD ? "gocd" : "mail");
        return -EINVAL;
    }
    if (fns[i].nargs != (size_t)-1 && fns[i].nargs != r->n_args) {
        snprintf(err, cap, "managers[%zu].rules[%zu]: %s takes %zu argument(s), got %zu", mi, ri, r->function_name,
                 fns[i].nargs, r->n_args);
        return -EINVAL;
    }
    r->function = fns[i].fn;
    if (r->function == M2A_FN_NAME_LIKE_IN_GROUP) {
        int ec;
        PCRE2_SIZE off;
        /* Python's str patterns: Unicode \w, \d, case folding. */
        r->regex = pcre2_compile((PCRE2_SPTR)r->args[0], PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &off, NULL);
        if (!r->regex) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(ec, msg, sizeof msg);
            snprintf(err, cap, "managers[%zu].rules[%zu]: bad pattern '%s': %s at offset %zu", mi, ri, r->args[0],
                     (char *)msg, (size_t)off);
            return -EINVAL;
        }
    }
    return 0;
}

static void rule_free(m2a_rule *r) {
    free(r->owner);
    free(r->name);
    strlist_free(r->actions, r->n_actions);
    strlist_free(r->events, r->n_events);
    strlist_free(r->args, r->n_args);
    free(r->function_name);
    if (r->regex) pcre2_code_free(r->regex);
}

static int parse_manager(const m2a_node *mn, m2a_manager *m, char *err, size_t cap, size_t mi) {
    if (!mn || mn->type != M2A_MAP) {
        snprintf(err, cap, "managers[%zu]: expected a mapping", mi);
        return -EINVAL;
    }
    m->name = str_of(m2a_node_get(mn, "name"));
    if (!m->name || (strcmp(m->name, "gocd") && strcmp(m->name, "mail"))) {
        snprintf(err, cap, "managers[%zu]: name must be gocd or mail (got %s)", mi, m->name ? m->name : "nothing");
        return -EINVAL;
    }
    m->kind = strcmp(m->name, "gocd") == 0 ? M2A_MGR_GOCD : M2A_MGR_MAIL;
    m->url = str_of(m2a_node_get(mn, "url"));
    m->user = str_of(m2a_node_get(mn, "user"));
    m->passwd = str_of(m2a_node_get(mn, "passwd"));
    const m2a_node *w = m2a_node_get(mn, "messages-we-want");
    if (w && w->type == M2A_MAP) {
        m->want_to = str_of(m2a_node_get(w, "to"));
        m->want_from = str_of(m2a_node_get(w, "from"));
        /* Python's truthiness: an empty string is as good as absent. */
        if (m->want_to && !*m->want_to) {
            free(m->want_to);
            m->want_to = NULL;
        }
        if (m->want_from && !*m->want_from) {
            free(m->want_from);
            m->want_from = NULL;
        }
    }
    if (m->kind == M2A_MGR_GOCD && !m->url) {
        snprintf(err, cap, "managers[%zu]: a gocd manager needs url", mi);
        return -EINVAL;
    }
    const m2a_node *rs = m2a_node_get(mn, "rules");
    if (rs && rs->type == M2A_SEQ) {
        m->rules = calloc(rs->n ? rs->n : 1, sizeof *m->rules);
        if (!m->rules) return -ENOMEM;
        for (size_t i = 0; i < rs->n; i++) {
            m->n_rules++;
            int rc = parse_rule(m->kind, rs->items[i], &m->rules[i], err, cap, mi, i);
            if (rc < 0) return rc;
        }
    } else if (rs && rs->type != M2A_NULL) {
        snprintf(err, cap, "managers[%zu].rules: expected a list", mi);
        return -EINVAL;
    }
    return 0;
}

static int get_double(const m2a_node *root, const char *key, double def, double *out, char *err, size_t cap) {
    const m2a_node *n = m2a_node_get(root, key);
    *out = def;
    if (!n || n->type == M2A_NULL) return 0;
    char *end;
    double v = n->type == M2A_STR ? strtod(n->str, &end) : -1;
    if (n->type != M2A_STR || end == n->str || *end || !(v >= 0) || v > 1e9) {
        snprintf(err, cap, "%s: expected a number of seconds", key);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

int m2a_config_from_text(const char *text, size_t len, m2a_config *cfg, char *err, size_t cap) {
    memset(cfg, 0, sizeof *cfg);
    m2a_node *root = m2a_yaml_parse(text, len, err, cap);
    if (!root) return -EINVAL;
    int rc = -EINVAL;
    if (root->type != M2A_MAP) {
        snprintf(err, cap, "the configuration is not a mapping");
        goto out;
    }
    const m2a_node *l = m2a_node_get(root, "local-smtp"), *r = m2a_node_get(root, "remote-smtp");
    if (!l || l->type != M2A_STR || !r || r->type != M2A_STR) {
        snprintf(err, cap, "local-smtp and remote-smtp are required (host:port)");
        goto out;
    }
    if (m2a_host_port(l->str, 25, &cfg->local_host, &cfg->local_port) < 0) {
        snprintf(err, cap, "local-smtp: bad host:port '%s'", l->str);
        goto out;
    }
    if (m2a_host_port(r->str, 25, &cfg->remote_host, &cfg->remote_port) < 0) {
        snprintf(err, cap, "remote-smtp: bad host:port '%s'", r->str);
        goto out;
    }
    cfg->slack_token = str_of(m2a_node_get(root, "slack-token"));
    cfg->slack_url = str_of(m2a_node_get(root, "slack-url"));
    if (!cfg->slack_url && !(cfg->slack_url = strdup("https://slack.com/api"))) {
        rc = -ENOMEM;
        goto out;
    }
    cfg->spool_dir = str_of(m2a_node_get(root, "spool-dir"));
    if ((rc = get_double(root, "retry-for", 3600, &cfg->retry_for, err, cap)) < 0) goto out;
    if ((rc = get_double(root, "retry-max-delay", 300, &cfg->retry_max_delay, err, cap)) < 0) goto out;
    if ((rc = get_double(root, "retry-first-delay", 1, &cfg->retry_first_delay, err, cap)) < 0) goto out;
    if ((rc = get_double(root, "groups-max-age", 30, &cfg->groups_max_age, err, cap)) < 0) goto out;
    const m2a_node *rf = m2a_node_get(root, "reply-first");
    if (rf && rf->type == M2A_STR) {
        /* YAML 1.1 booleans as PyYAML reads them */
        static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
        static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
        int v = -1;
        for (size_t i = 0; i < 9; i++) {
            if (!strcmp(rf->str, yes[i])) v = 1;
            if (!strcmp(rf->str, no[i])) v = 0;
        }
        if (v < 0) {
            snprintf(err, cap, "reply-first: expected true or false");
            rc = -EINVAL;
            goto out;
        }
        cfg->reply_first = v;
    }
    rc = -EINVAL;
    const m2a_node *ms = m2a_node_get(root, "managers");
    if (ms && ms->type == M2A_SEQ) {
        cfg->managers = calloc(ms->n ? ms->n : 1, sizeof *cfg->managers);
        if (!cfg->managers) {
            rc = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < ms->n; i++) {
            cfg->n_managers++;
            if ((rc = parse_manager(ms->items[i], &cfg->managers[i], err, cap, i)) < 0) goto out;
        }
    } else if (ms && ms->type != M2A_NULL) {
        snprintf(err, cap, "managers: expected a list");
        goto out;
    }
    rc = 0;
out:
    m2a_node_free(root);
    if (rc < 0) m2a_config_free(cfg);
    return rc;
}

int m2a_config_load(const char *path, m2a_config *cfg, char *err, size_t cap) {
    memset(cfg, 0, sizeof *cfg);
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, cap, "%s: %s", path, strerror(e));
        return -e;
    }
    m2a_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (m2a_buf_add(&b, chunk, n) < 0 || b.len > (16u << 20)) {
            fclose(f);
            free(b.p);
            snprintf(err, cap, "%s: too big or out of memory", path);
            return -EFBIG;
        }
    }
    fclose(f);
    int rc = m2a_config_from_text(b.p ? b.p : "", b.len, cfg, err, cap);
    free(b.p);
    return rc;
}

void m2a_config_free(m2a_config *cfg) {
    free(cfg->local_host);
    free(cfg->remote_host);
    free(cfg->slack_token);
    free(cfg->slack_url);
    free(cfg->spool_dir);
    for (size_t i = 0; i < cfg->n_managers; i++) {
        m2a_manager *m = &cfg->managers[i];
        free(m->name);
        free(m->url);
        free(m->user);
        free(m->passwd);
        free(m->want_to);
        free(m->want_from);
        for (size_t j = 0; j < m->n_rules; j++) rule_free(&m->rules[j]);
        free(m->rules);
        m2a_groups_free(m->groups);
        m2a_history_free(&m->history);
    }
    free(cfg->managers);
    memset(cfg, 0, sizeof *cfg);
}
