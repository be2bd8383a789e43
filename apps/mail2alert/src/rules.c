/*
 * rules.c - what the original's plugins decide: which manager wants a
 * mail, the GoCD subject and its edge rules, the rule filters, the
 * actions, and the self-test report.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "m2a.h"

#include <ctype.h>
#include <errno.h>
#include <expat.h>
#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

const char *const m2a_event_names[M2A_NEVENTS] = {"BREAKS", "CANCELLED", "FAILS", "FIXED", "PASSES"};

static pcre2_code *subject_rx;
/* Made once and reused by every mail (one loop thread): a match data
 * block per mail was a malloc and a free.  The pattern is JIT-compiled
 * when the library can (the interpreter was a tenth of each mail's
 * instructions); the JIT's stack is on the heap, since a task's stack
 * has no room for the 32 KiB it takes from the machine stack by default. */
static pcre2_match_data *subject_md;
static pcre2_match_context *subject_mc;
static pcre2_jit_stack *subject_js;
/* The JIT's vector search loads whole aligned blocks around the subject,
 * some bytes before its start and after its end (harmless, within the
 * page, but uninitialised heap to valgrind): the subject is matched in a
 * copy with PAD zeroed bytes on either side. */
#define PAD 64
static char *subject_copy;
static size_t subject_cap;

int m2a_init(void) {
    if (subject_rx) return 0;
    int ec;
    PCRE2_SIZE off;
    /* The gocd plugin's pattern, searched (not anchored at the start). */
    subject_rx = pcre2_compile((PCRE2_SPTR) "Stage \\[([^/]+)/[^/]+/([^/]+)/[^/]+\\] (.+)$", PCRE2_ZERO_TERMINATED,
                               PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &off, NULL);
    if (!subject_rx) return -EINVAL;
    subject_md = pcre2_match_data_create_from_pattern(subject_rx, NULL);
    subject_mc = pcre2_match_context_create(NULL);
    if (!subject_md || !subject_mc) {
        m2a_fini();
        return -ENOMEM;
    }
    /* Without JIT (a platform pcre2 does not support, or no executable
     * memory) pcre2_match interprets, as before. */
    if (pcre2_jit_compile(subject_rx, PCRE2_JIT_COMPLETE) == 0) {
        subject_js = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
        if (!subject_js) {
            m2a_fini();
            return -ENOMEM;
        }
        pcre2_jit_stack_assign(subject_mc, NULL, subject_js);
    }
    return 0;
}

void m2a_fini(void) {
    pcre2_match_data_free(subject_md);
    pcre2_match_context_free(subject_mc);
    pcre2_jit_stack_free(subject_js);
    pcre2_code_free(subject_rx);
    free(subject_copy);
    subject_copy = NULL;
    subject_cap = 0;
    subject_md = NULL;
    subject_mc = NULL;
    subject_js = NULL;
    subject_rx = NULL;
}

/* ---- strings -------------------------------------------------------------------- */

int m2a_strv_add(m2a_strv *s, const char *x) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(x))) return -ENOMEM;
    s->n++;
    return 0;
}

void m2a_strv_free(m2a_strv *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- history -------------------------------------------------------------------- */

static size_t hash(const char *s) {
    size_t h = 1469598103934665603ULL;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

int m2a_history_get(const m2a_history *h, const char *key) {
    if (!h || !h->cap) return M2A_STATE_UNKNOWN;
    for (size_t i = hash(key) & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
        if (!h->keys[i]) return M2A_STATE_UNKNOWN;
        if (strcmp(h->keys[i], key) == 0) return h->vals[i];
    }
}

int m2a_history_set(m2a_history *h, const char *key, int state) {
    if ((h->n + 1) * 2 > h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        char **keys = calloc(cap, sizeof *keys);
        unsigned char *vals = calloc(cap, 1);
        if (!keys || !vals) {
            free(keys);
            free(vals);
            return -ENOMEM;
        }
        for (size_t i = 0; i < h->cap; i++) {
            if (!h->keys[i]) continue;
            size_t j = hash(h->keys[i]) & (cap - 1);
            while (keys[j]) j = (j + 1) & (cap - 1);
            keys[j] = h->keys[i];
            vals[j] = h->vals[i];
        }
        free(h->keys);
        free(h->vals);
        h->keys = keys;
        h->vals = vals;
        h->cap = cap;
    }
    size_t i = hash(key) & (h->cap - 1);
    while (h->keys[i] && strcmp(h->keys[i], key) != 0) i = (i + 1) & (h->cap - 1);
    if (!h->keys[i]) {
        if (!(h->keys[i] = strdup(key))) return -ENOMEM;
        h->n++;
    }
    h->vals[i] = (unsigned char)state;
    return 0;
}

void m2a_history_free(m2a_history *h) {
    for (size_t i = 0; i < h->cap; i++) free(h->keys[i]);
    free(h->keys);
    free(h->vals);
    memset(h, 0, sizeof *h);
}

/* ---- GoCD subjects and edges ---------------------------------------------------- */

int m2a_state_of_event(int ev) {
    switch (ev) {
    case M2A_PASSES:
    case M2A_FIXED: return M2A_STATE_SUCCESS;
    case M2A_BREAKS:
    case M2A_FAILS: return M2A_STATE_FAILURE;
    default: return M2A_STATE_UNKNOWN;
    }
}

int m2a_state_after(int state, int prev) {
    if (state == M2A_STATE_SUCCESS) return prev == M2A_STATE_SUCCESS ? M2A_PASSES : M2A_FIXED;
    if (state == M2A_STATE_FAILURE) return prev == M2A_STATE_FAILURE ? M2A_FAILS : M2A_BREAKS;
    return M2A_EV_NONE;
}

void m2a_msg_clear(m2a_msg *m) {
    free(m->subject);
    free(m->pipeline);
    memset(m, 0, sizeof *m);
    m->event = M2A_EV_NONE;
}

int m2a_gocd_parse(const char *subject, m2a_history *history, m2a_msg *msg) {
    msg->pipeline = NULL;
    msg->event = M2A_EV_NONE;
    if (m2a_init() < 0) return -EINVAL;
    pcre2_match_data *md = subject_md;
    size_t len = strlen(subject);
    if (len + 2 * PAD > subject_cap) {
        size_t cap = len + 2 * PAD < 1024 ? 1024 : len + 2 * PAD;
        char *p = calloc(1, cap); /* zeroed: the pads stay defined */
        if (!p) return -ENOMEM;
        free(subject_copy);
        subject_copy = p;
        subject_cap = cap;
    }
    memcpy(subject_copy + PAD, subject, len);
    memset(subject_copy + PAD + len, 0, PAD);
    int rc = pcre2_match(subject_rx, (PCRE2_SPTR)(subject_copy + PAD), len, 0, 0, md, subject_mc);
    if (rc < 4) {
        m2a_log(M2A_WARNING, "Unable to parse message: subject %s", subject);
        return 0;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t pl = ov[3] - ov[2], sgl = ov[5] - ov[4];
    /* "pipeline/stage", the history's key; the pipeline is its first part. */
    char *key = malloc(pl + sgl + 2);
    msg->pipeline = key ? strndup(subject + ov[2], pl) : NULL;
    const char *st = subject + ov[6];
    size_t sl = ov[7] - ov[6];
    if (!msg->pipeline) {
        free(key);
        return -ENOMEM;
    }
    memcpy(key, subject + ov[2], pl);
    key[pl] = '/';
    memcpy(key + pl + 1, subject + ov[4], sgl);
    key[pl + 1 + sgl] = 0;
    /* str.strip(): ASCII whitespace is what a subject carries. */
    while (sl && isspace((unsigned char)*st)) st++, sl--;
    while (sl && isspace((unsigned char)st[sl - 1])) sl--;
    static const struct {
        const char *text;
        int ev;
    } map[] = {{"is fixed", M2A_FIXED},
               {"is broken", M2A_BREAKS},
               {"is cancelled", M2A_CANCELLED},
               {"passed", M2A_PASSES},
               {"failed", M2A_FAILS}};
    int ev = M2A_EV_NONE;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i].text) == sl && memcmp(map[i].text, st, sl) == 0) ev = map[i].ev;
    if (ev == M2A_EV_NONE) {
        m2a_log(M2A_WARNING, "No event found in subject %s", subject);
        free(key);
        return 0;
    }
    int prev = m2a_history_get(history, key);
    int expected = m2a_state_after(m2a_state_of_event(ev), prev);
    if (prev == M2A_STATE_UNKNOWN || expected == ev) {
        /* as reported */
    } else if (expected == M2A_FIXED || expected == M2A_BREAKS) {
        m2a_log(M2A_WARNING, "Got Event.%s instead of Event.%s expected due to history. Changing!",
                m2a_event_names[ev], m2a_event_names[expected]);
        ev = expected;
    } else {
        m2a_log(M2A_WARNING, "Got Event.%s instead of Event.%s expected due to history. Keep that!",
                m2a_event_names[ev], expected >= 0 ? m2a_event_names[expected] : "None");
    }
    msg->event = ev;
    int r = history ? m2a_history_set(history, key, m2a_state_of_event(ev)) : 0;
    free(key);
    return r;
}

/* ---- cctray --------------------------------------------------------------------- */

typedef struct cctray {
    XML_Parser p;
    m2a_history *h;
    int depth;
    int rc;
} cctray;

static const char *attr(const XML_Char **a, const char *name) {
    for (; a && a[0]; a += 2)
        if (strcmp(a[0], name) == 0) return a[1];
    return NULL;
}

static void cc_start(void *ud, const XML_Char *el, const XML_Char **a) {
    cctray *c = ud;
    c->depth++;
    /* findall('Project'): the root's direct children only. */
    if (c->depth != 2 || strcmp(el, "Project") != 0 || c->rc < 0) return;
    const char *name = attr(a, "name"), *status = attr(a, "lastBuildStatus"), *when = attr(a, "lastBuildTime");
    if (!name) {
        c->rc = -EINVAL;
        m2a_log(M2A_ERROR, "Exception in fetch_cctray: a Project without name");
        return;
    }
    /* name "pipeline :: stage" (jobs have a third part and are skipped) */
    char *parts[3] = {0};
    size_t np = 0;
    const char *p = name;
    while (np < 3) {
        const char *sep = strstr(p, "::");
        size_t l = sep ? (size_t)(sep - p) : strlen(p);
        const char *s = p;
        while (l && isspace((unsigned char)*s)) s++, l--;
        while (l && isspace((unsigned char)s[l - 1])) l--;
        parts[np++] = strndup(s, l);
        if (!sep) break;
        p = sep + 2;
    }
    if (np >= 3) goto done;
    if (np < 2) {
        m2a_log(M2A_ERROR, "Exception in fetch_cctray: Project name without stage: %s", name);
        c->rc = -EINVAL;
        goto done;
    }
    if (!status || !when) {
        m2a_log(M2A_ERROR, "Exception in fetch_cctray: Project %s lacks lastBuildStatus or lastBuildTime", name);
        c->rc = -EINVAL;
        goto done;
    }
    if (!*when) goto done; /* the original compares the time with '' */
    int state;
    if (strcmp(status, "Success") == 0) state = M2A_STATE_SUCCESS;
    else if (strcmp(status, "Failure") == 0) state = M2A_STATE_FAILURE;
    else {
        m2a_log(M2A_ERROR, "Exception in fetch_cctray: '%s'", status);
        c->rc = -EINVAL;
        goto done;
    }
    size_t kl = strlen(parts[0]) + strlen(parts[1]) + 2;
    char *key = malloc(kl);
    if (key) {
        snprintf(key, kl, "%s/%s", parts[0], parts[1]);
        if (m2a_history_set(c->h, key, state) < 0) c->rc = -ENOMEM;
        m2a_log(M2A_DEBUG, "Set state for %s to %s", key, status);
        free(key);
    }
done:
    for (size_t i = 0; i < np; i++) free(parts[i]);
}

static void cc_end(void *ud, const XML_Char *el) {
    (void)el;
    ((cctray *)ud)->depth--;
}

int m2a_parse_cctray(const char *xml, size_t len, m2a_history *h) {
    cctray c = {.h = h};
    c.p = XML_ParserCreate(NULL);
    if (!c.p) return -ENOMEM;
    XML_SetUserData(c.p, &c);
    XML_SetElementHandler(c.p, cc_start, cc_end);
    if (XML_Parse(c.p, xml, (int)(len > INT32_MAX ? INT32_MAX : len), 1) == XML_STATUS_ERROR) {
        m2a_log(M2A_ERROR, "Exception in fetch_cctray: %s: line %lu, column %lu",
                XML_ErrorString(XML_GetErrorCode(c.p)), (unsigned long)XML_GetCurrentLineNumber(c.p),
                (unsigned long)XML_GetCurrentColumnNumber(c.p));
        if (c.rc == 0) c.rc = -EBADMSG;
    }
    XML_ParserFree(c.p);
    return c.rc;
}

/* ---- pipeline groups ------------------------------------------------------------ */

void m2a_groups_free(m2a_groups *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->g[i].name);
        for (size_t j = 0; j < g->g[i].n; j++) free(g->g[i].pipelines[j]);
        free(g->g[i].pipelines);
    }
    free(g->g);
    free(g);
}

int m2a_parse_groups(const char *json, size_t len, m2a_groups **out) {
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &je);
    if (!root) {
        m2a_log(M2A_ERROR, "Exception in fetch_pipeline_groups: JSON: %s (line %d)", je.text, je.line);
        return -EBADMSG;
    }
    int rc = -EBADMSG;
    m2a_groups *g = calloc(1, sizeof *g);
    if (!g || !json_is_array(root)) goto out;
    size_t n = json_array_size(root);
    g->g = calloc(n ? n : 1, sizeof *g->g);
    if (!g->g) goto out;
    for (size_t i = 0; i < n; i++) {
        json_t *grp = json_array_get(root, i);
        const char *name = json_string_value(json_object_get(grp, "name"));
        json_t *pl = json_object_get(grp, "pipelines");
        if (!name || !json_is_array(pl)) goto out;
        m2a_group *G = &g->g[g->n++];
        if (!(G->name = strdup(name))) goto out;
        size_t np = json_array_size(pl);
        G->pipelines = calloc(np ? np : 1, sizeof *G->pipelines);
        if (!G->pipelines) goto out;
        for (size_t j = 0; j < np; j++) {
            const char *pn = json_string_value(json_object_get(json_array_get(pl, j), "name"));
            if (!pn) goto out;
            if (!(G->pipelines[G->n] = strdup(pn))) goto out;
            G->n++;
        }
    }
    rc = 0;
out:
    json_decref(root);
    if (rc < 0) {
        m2a_log(M2A_ERROR, "Exception in fetch_pipeline_groups: not a list of groups with names and pipelines");
        m2a_groups_free(g);
    } else {
        *out = g;
    }
    return rc;
}

/* ---- rules ---------------------------------------------------------------------- */

int m2a_wants(const m2a_manager *m, const char *mail_from, const char *const *rcpts, size_t n) {
    if (m->want_to) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(rcpts[i], m->want_to) == 0) return 1;
        return 0;
    }
    if (m->want_from) return mail_from && strcmp(m->want_from, mail_from) == 0;
    return 0;
}

int m2a_rule_needs_groups(const m2a_rule *r) {
    return r->function == M2A_FN_IN_GROUP || r->function == M2A_FN_NAME_LIKE_IN_GROUP;
}

static const m2a_group *find_group(const m2a_groups *g, const char *name) {
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->g[i].name, name) == 0) return &g->g[i];
    return NULL;
}

static int in_group(const m2a_groups *g, const char *group, const char *pipeline, size_t plen) {
    const m2a_group *G = find_group(g, group);
    if (!G) return 0;
    for (size_t i = 0; i < G->n; i++)
        if (strlen(G->pipelines[i]) == plen && memcmp(G->pipelines[i], pipeline, plen) == 0) return 1;
    return 0;
}

/* Lower-case a UTF-8 string (bytes that are not UTF-8 kept as they are). */
static char *lower_utf8(const char *s) {
    size_t n = strlen(s);
    char *o = malloc(n * 2 + 8), *q = o;
    if (!o) return NULL;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    while (*s) {
        wchar_t wc;
        size_t l = mbrtowc(&wc, s, strlen(s), &st);
        if (l == (size_t)-1 || l == (size_t)-2 || l == 0) {
            *q++ = (char)tolower((unsigned char)*s++);
            memset(&st, 0, sizeof st);
            continue;
        }
        char mb[MB_LEN_MAX];
        mbstate_t st2;
        memset(&st2, 0, sizeof st2);
        size_t ol = wcrtomb(mb, (wchar_t)towlower((wint_t)wc), &st2);
        if (ol == (size_t)-1 || ol > l * 2 + 4) {
            memcpy(q, s, l);
            q += l;
        } else {
            memcpy(q, mb, ol);
            q += ol;
        }
        s += l;
    }
    *q = 0;
    return o;
}

int m2a_rule_check(int kind, const m2a_rule *r, const m2a_msg *msg, const m2a_groups *groups) {
    if (kind == M2A_MGR_GOCD) {
        if (r->has_events) {
            if (msg->event == M2A_EV_NONE) return 0;
            size_t i;
            for (i = 0; i < r->n_events; i++)
                if (strcmp(r->events[i], m2a_event_names[msg->event]) == 0) break;
            if (i == r->n_events) return 0;
        }
    }
    switch (r->function) {
    case M2A_FN_ANY: return 1;
    case M2A_FN_IN_GROUP:
        if (!groups) return -EAGAIN;
        return msg->pipeline && in_group(groups, r->args[0], msg->pipeline, strlen(msg->pipeline));
    case M2A_FN_NAME_LIKE_IN_GROUP: {
        if (!groups) return -EAGAIN;
        if (!msg->pipeline) return 0;
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->regex, NULL);
        if (!md) return -ENOMEM;
        int rc = pcre2_match(r->regex, (PCRE2_SPTR)msg->pipeline, strlen(msg->pipeline), 0, 0, md, NULL);
        int hit = 0;
        if (rc >= 2) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            if (ov[2] != PCRE2_UNSET)
                hit = in_group(groups, r->args[1], msg->pipeline + ov[2], ov[3] - ov[2]);
        } else if (rc == 1) {
            m2a_log(M2A_ERROR, "pattern %s has no group 1", r->args[0]);
        }
        pcre2_match_data_free(md);
        return hit;
    }
    case M2A_FN_IN_SUBJECT: {
        char *subj = lower_utf8(msg->subject ? msg->subject : "");
        if (!subj) return -ENOMEM;
        int all = 1;
        for (size_t i = 0; i < r->n_args && all; i++) {
            char *w = lower_utf8(r->args[i]);
            if (!w) {
                free(subj);
                return -ENOMEM;
            }
            all = strstr(subj, w) != NULL;
            free(w);
        }
        free(subj);
        return all;
    }
    }
    return 0;
}

int m2a_action_parse(const char *text, char *buf, size_t cap, const char **dest, const char **style) {
    *dest = *style = NULL;
    size_t l = strlen(text);
    if (l >= cap) l = cap - 1;
    memcpy(buf, text, l);
    buf[l] = 0;
    char *c1 = strchr(buf, ':');
    int kind = M2A_ACT_UNKNOWN;
    if (c1) {
        *c1 = 0;
        if (strcmp(buf, "mailto") == 0) kind = M2A_ACT_MAILTO;
        else if (strcmp(buf, "slack") == 0) kind = M2A_ACT_SLACK;
        *dest = c1 + 1;
        char *c2 = strchr(c1 + 1, ':');
        if (c2) {
            *c2 = 0;
            *style = c2 + 1;
            char *c3 = strchr(c2 + 1, ':');
            if (c3) *c3 = 0;
        }
    }
    if (kind == M2A_ACT_UNKNOWN) m2a_log(M2A_ERROR, "Unexpected action: %s", text);
    if (kind == M2A_ACT_SLACK && !*style) *style = "brief";
    return kind;
}

int m2a_process(m2a_manager *m, const char *content, size_t len, m2a_strv *rcpts, m2a_strv *slack, m2a_msg *msg) {
    memset(msg, 0, sizeof *msg);
    msg->event = M2A_EV_NONE;
    if (m->kind == M2A_MGR_GOCD && !m->groups) {
        /* Checked before the mail is parsed: parsing updates the history,
         * and a mail refused now comes back. */
        for (size_t i = 0; i < m->n_rules; i++)
            if (m2a_rule_needs_groups(&m->rules[i])) return -EAGAIN;
    }
    msg->subject = m2a_header(content, len, "Subject");
    if (!msg->subject && !(msg->subject = strdup(""))) return -ENOMEM;
    m2a_log(M2A_INFO, "Message with subject: %s", msg->subject);
    if (m->kind == M2A_MGR_GOCD) {
        int rc = m2a_gocd_parse(msg->subject, &m->history, msg);
        if (rc < 0) return rc;
    }
    for (size_t i = 0; i < m->n_rules; i++) {
        const m2a_rule *r = &m->rules[i];
        int hit = m2a_rule_check(m->kind, r, msg, m->groups);
        if (hit < 0) return hit;
        if (!hit) continue;
        m2a_log(M2A_DEBUG, "Rule match, actions: %zu", r->n_actions);
        for (size_t j = 0; j < r->n_actions; j++) {
            char buf[1024];
            const char *dest, *style;
            int kind = m2a_action_parse(r->actions[j], buf, sizeof buf, &dest, &style);
            int rc = 0;
            if (kind == M2A_ACT_MAILTO) rc = m2a_strv_add(rcpts, dest);
            else if (kind == M2A_ACT_SLACK && slack) {
                rc = m2a_strv_add(slack, dest);
                if (rc == 0) rc = m2a_strv_add(slack, style);
            }
            if (rc < 0) return rc;
        }
    }
    return 0;
}

const char *m2a_alert_color(int kind, int event) {
    if (kind == M2A_MGR_GOCD) {
        if (event == M2A_BREAKS || event == M2A_FAILS) return "#D50200";
        if (event == M2A_PASSES || event == M2A_FIXED) return "#2FA44F";
        if (event == M2A_CANCELLED) return "#DE9E31";
    }
    return "#4ABCF9";
}

/* ---- the self-test report as YAML ----------------------------------------------- */

static int plain_ok(const char *s) {
    static const char *const special[] = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                          "true", "True", "TRUE", "false", "False", "FALSE", "on", "On",
                                          "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "=", "<<"};
    size_t n = strlen(s);
    if (!n) return 0;
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (strcmp(s, special[i]) == 0) return 0;
    if (strchr("-?:,[]{}#&*!|>'\"%@` \t", s[0]) && !((s[0] == '-' || s[0] == '?' || s[0] == ':') && n > 1 &&
                                                     s[1] != ' ' && !strchr(",[]{}", s[1])))
        return 0;
    if (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == ':') return 0;
    if (strstr(s, ": ") || strstr(s, " #") || strstr(s, "---") == s || strstr(s, "...") == s) return 0;
    /* Numbers (int, float, sexagesimal) would read back as numbers. */
    char *end;
    (void)strtod(s, &end);
    if (!*end) return 0;
    if (strspn(s, "0123456789_:.+-") == n && strpbrk(s, "0123456789")) return 0;
    if (!strcmp(s, ".inf") || !strcmp(s, ".nan") || !strcmp(s, "-.inf") || !strcmp(s, ".NaN")) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch >= 0x7f) return 0;
        if ((ch == ',' || ch == '[' || ch == ']' || ch == '{' || ch == '}') && 0) return 0;
    }
    return 1;
}

int m2a_yaml_scalar(m2a_buf *o, const char *s) {
    if (plain_ok(s)) return m2a_buf_adds(o, s);
    int printable = 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p >= 0x7f) printable = 0;
    if (printable) { /* single-quoted, ' doubled */
        if (m2a_buf_add(o, "'", 1) < 0) return -ENOMEM;
        for (const char *p = s; *p; p++)
            if (m2a_buf_add(o, p, 1) < 0 || (*p == '\'' && m2a_buf_add(o, "'", 1) < 0)) return -ENOMEM;
        return m2a_buf_add(o, "'", 1);
    }
    /* double-quoted with escapes (PyYAML without allow_unicode) */
    if (m2a_buf_add(o, "\"", 1) < 0) return -ENOMEM;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    const char *p = s;
    while (*p) {
        wchar_t wc;
        size_t l = mbrtowc(&wc, p, strlen(p), &st);
        if (l == (size_t)-1 || l == (size_t)-2 || l == 0) {
            wc = (unsigned char)*p;
            l = 1;
            memset(&st, 0, sizeof st);
        }
        char e[16];
        if (wc == '"' || wc == '\\') snprintf(e, sizeof e, "\\%c", (char)wc);
        else if (wc >= 0x20 && wc < 0x7f) snprintf(e, sizeof e, "%c", (char)wc);
        else if (wc == '\n') snprintf(e, sizeof e, "\\n");
        else if (wc == '\t') snprintf(e, sizeof e, "\\t");
        else if (wc < 0x100) snprintf(e, sizeof e, "\\x%02X", (unsigned)wc);
        else if (wc < 0x10000) snprintf(e, sizeof e, "\\u%04X", (unsigned)wc);
        else snprintf(e, sizeof e, "\\U%08X", (unsigned)wc);
        if (m2a_buf_adds(o, e) < 0) return -ENOMEM;
        p += l;
    }
    return m2a_buf_add(o, "\"", 1);
}

/* One pipeline's report: its alerts in the order they were first made. */
typedef struct alert {
    const m2a_rule *rule; /* its actions identify the alert */
    int events[M2A_NEVENTS];
    size_t n_events;
} alert;

typedef struct prep {
    const char *name;
    alert *alerts;
    size_t n_alerts;
} prep;

static int same_actions(const m2a_rule *a, const m2a_rule *b) {
    if (a->n_actions != b->n_actions) return 0;
    for (size_t i = 0; i < a->n_actions; i++)
        if (strcmp(a->actions[i], b->actions[i]) != 0) return 0;
    return 1;
}

static int add_line(m2a_buf *o, int indent, const char *text) {
    for (int i = 0; i < indent; i++)
        if (m2a_buf_add(o, " ", 1) < 0) return -ENOMEM;
    return m2a_buf_adds(o, text);
}

int m2a_gocd_report_yaml(const m2a_manager *m, const m2a_groups *groups, m2a_buf *o) {
    size_t total = 0;
    for (size_t i = 0; i < groups->n; i++) total += groups->g[i].n;
    prep *ps = calloc(total ? total : 1, sizeof *ps);
    if (!ps) return -ENOMEM;
    int rc = -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < groups->n; i++)
        for (size_t j = 0; j < groups->g[i].n; j++) ps[k++].name = groups->g[i].pipelines[j];
    /* Every rule over every pipeline x event; the original's map from a
     * pipeline name to its report keeps the last entry of a repeated name. */
    for (size_t a = 0; a < total; a++) {
        prep *target = &ps[a];
        for (size_t b = total; b-- > 0;)
            if (strcmp(ps[b].name, ps[a].name) == 0) {
                target = &ps[b];
                break;
            }
        for (int ev = 0; ev < M2A_NEVENTS; ev++) {
            m2a_msg msg = {.pipeline = (char *)ps[a].name, .event = ev, .subject = (char *)""};
            for (size_t r = 0; r < m->n_rules; r++) {
                const m2a_rule *rule = &m->rules[r];
                if (m2a_rule_check(M2A_MGR_GOCD, rule, &msg, groups) != 1) continue;
                size_t x;
                for (x = 0; x < target->n_alerts; x++)
                    if (same_actions(target->alerts[x].rule, rule)) break;
                if (x == target->n_alerts) {
                    alert *na = realloc(target->alerts, (x + 1) * sizeof *na);
                    if (!na) goto out;
                    target->alerts = na;
                    memset(&na[x], 0, sizeof na[x]);
                    na[x].rule = rule;
                    target->n_alerts++;
                }
                alert *al = &target->alerts[x];
                size_t e;
                for (e = 0; e < al->n_events; e++)
                    if (al->events[e] == ev) break;
                if (e == al->n_events) al->events[al->n_events++] = ev;
            }
        }
    }
    if (groups->n == 0) {
        rc = m2a_buf_adds(o, " []\n");
        goto out;
    }
    if (m2a_buf_adds(o, "\n") < 0) goto out;
    k = 0;
    for (size_t i = 0; i < groups->n; i++) {
        if (add_line(o, 0, "- pipeline_group: ") < 0 || m2a_yaml_scalar(o, groups->g[i].name) < 0) goto out;
        if (groups->g[i].n == 0) {
            if (m2a_buf_adds(o, "\n  pipelines: []\n") < 0) goto out;
            continue;
        }
        if (m2a_buf_adds(o, "\n  pipelines:\n") < 0) goto out;
        for (size_t j = 0; j < groups->g[i].n; j++, k++) {
            const prep *p = &ps[k];
            if (p->n_alerts) {
                if (add_line(o, 2, "- alerts:\n") < 0) goto out;
                for (size_t x = 0; x < p->n_alerts; x++) {
                    const alert *al = &p->alerts[x];
                    if (al->rule->n_actions == 0) {
                        if (add_line(o, 4, "- actions: []\n") < 0) goto out;
                    } else {
                        if (add_line(o, 4, "- actions:\n") < 0) goto out;
                        for (size_t y = 0; y < al->rule->n_actions; y++)
                            if (add_line(o, 6, "- ") < 0 || m2a_yaml_scalar(o, al->rule->actions[y]) < 0 ||
                                m2a_buf_adds(o, "\n") < 0)
                                goto out;
                    }
                    if (add_line(o, 6, "events:\n") < 0) goto out;
                    for (size_t e = 0; e < al->n_events; e++)
                        if (add_line(o, 6, "- ") < 0 || m2a_buf_adds(o, m2a_event_names[al->events[e]]) < 0 ||
                            m2a_buf_adds(o, "\n") < 0)
                            goto out;
                }
                if (add_line(o, 4, "pipeline: ") < 0) goto out;
            } else if (add_line(o, 2, "- pipeline: ") < 0) {
                goto out;
            }
            if (m2a_yaml_scalar(o, p->name) < 0 || m2a_buf_adds(o, "\n") < 0) goto out;
        }
    }
    rc = 0;
out:
    for (size_t i = 0; i < total; i++) free(ps[i].alerts);
    free(ps);
    return rc;
}

int m2a_report_yaml(const m2a_config *cfg, m2a_groups *const *groups_of, m2a_buf *o) {
    /* The report is a dict keyed by manager name: the last manager of a
     * name wins; keys come out sorted ("gocd" < "mail"). */
    const char *names[] = {"gocd", "mail"};
    int any = 0;
    for (size_t k = 0; k < 2; k++) {
        ssize_t last = -1;
        for (size_t i = 0; i < cfg->n_managers; i++)
            if (strcmp(cfg->managers[i].name, names[k]) == 0) last = (ssize_t)i;
        if (last < 0) continue;
        any = 1;
        if (m2a_buf_adds(o, names[k]) < 0 || m2a_buf_adds(o, ":") < 0) return -ENOMEM;
        if (k == 1) {
            if (m2a_buf_adds(o, " null\n") < 0) return -ENOMEM;
        } else {
            static const m2a_groups none = {0};
            const m2a_groups *g = groups_of[last] ? groups_of[last] : &none;
            int rc = m2a_gocd_report_yaml(&cfg->managers[last], g, o);
            if (rc < 0) return rc;
        }
    }
    if (!any) return m2a_buf_adds(o, "{}\n");
    return 0;
}
