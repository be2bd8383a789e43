/*
 * m2a.h - mail2alert's pieces, shared by the program (main.c), its tests
 * and its fuzz targets.  Nothing here suspends unless it says so; the
 * network parts (SMTP, HTTP, the forwarding queue) live in main.c.
 *
 * Errors are negative errno values.  Strings are NUL-terminated and
 * malloc'd unless said otherwise; "owned" means the callee frees them.
 */
#ifndef M2A_H
#define M2A_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- logging (Python's logging.basicConfig format) ------------------------------ */

enum { M2A_NOTSET = 0, M2A_DEBUG = 10, M2A_INFO = 20, M2A_WARNING = 30, M2A_ERROR = 40, M2A_CRITICAL = 50 };

/* The level LOGLEVEL names, exactly as Python's logging._nameToLevel
 * (case-sensitive: "debug" is not a level); NULL or anything else: INFO. */
int m2a_loglevel_parse(const char *text);
/* Set the threshold; messages below it are not printed. */
void m2a_log_set_level(int level);
int m2a_log_level(void);
/* "%(asctime)s:%(levelname)s:%(name)s:%(message)s" on stderr, name "root". */
void m2a_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Deferred logging: with wake set, m2a_log appends its line to a buffer
 * (each line whole) and calls wake(arg) when the buffer was empty; the
 * owner calls m2a_log_flush() soon after (the server does it from a task
 * of its own, once the mail's task has sent what it had to send, so the
 * write is off the mail's path).  A line that does not fit flushes the
 * buffer first.  m2a_log_defer(NULL, NULL) flushes and turns it off. */
void m2a_log_defer(void (*wake)(void *), void *arg);
/* Write the buffered lines to stderr (one write).  Does not suspend. */
void m2a_log_flush(void);

/* ---- a YAML document as a tree ------------------------------------------------- */

enum { M2A_NULL, M2A_STR, M2A_MAP, M2A_SEQ };

typedef struct m2a_node m2a_node;
struct m2a_node {
    int type;
    char *str;          /* M2A_STR: the scalar, $VAR-expanded */
    char **keys;        /* M2A_MAP: n keys (scalars, not expanded) */
    m2a_node **items;   /* M2A_MAP: n values; M2A_SEQ: n items */
    size_t n;
};

/* Parse YAML text (the first document) into a tree, expanding $VAR and
 * ${VAR} in every string scalar as os.path.expandvars.  NULL on a syntax
 * error, with a message in err (cap bytes). */
m2a_node *m2a_yaml_parse(const char *text, size_t len, char *err, size_t cap);
void m2a_node_free(m2a_node *n);
/* The value of key in a map, or NULL (also when n is not a map).  A key
 * repeated in the YAML: the last one, as PyYAML. */
const m2a_node *m2a_node_get(const m2a_node *n, const char *key);

/* os.path.expandvars: $name / ${name} replaced when set in the
 * environment, left as is otherwise.  Returns a new string or NULL. */
char *m2a_expandvars(const char *s);

/* ---- configuration -------------------------------------------------------------- */

enum { M2A_EV_NONE = -1, M2A_BREAKS = 0, M2A_CANCELLED, M2A_FAILS, M2A_FIXED, M2A_PASSES, M2A_NEVENTS };
extern const char *const m2a_event_names[M2A_NEVENTS];

enum { M2A_FN_ANY, M2A_FN_IN_GROUP, M2A_FN_NAME_LIKE_IN_GROUP, M2A_FN_IN_SUBJECT };

typedef struct m2a_rule {
    char *owner, *name;  /* informational */
    char **actions;      /* as written: "mailto:a@b", "slack:#c:full" */
    size_t n_actions;
    int has_events;      /* the filter lists events */
    char **events;
    size_t n_events;
    int function;        /* M2A_FN_* */
    char *function_name; /* as written */
    char **args;
    size_t n_args;
    void *regex;         /* pcre2_code for name_like_in_group */
} m2a_rule;

enum { M2A_MGR_GOCD, M2A_MGR_MAIL };
enum { M2A_STATE_UNKNOWN = 0, M2A_STATE_SUCCESS, M2A_STATE_FAILURE };

typedef struct m2a_group {
    char *name;
    char **pipelines;
    size_t n;
} m2a_group;

typedef struct m2a_groups {
    m2a_group *g;
    size_t n;
} m2a_groups;

/* "pipeline/stage" -> M2A_STATE_*: an open-addressing table. */
typedef struct m2a_history {
    char **keys;
    unsigned char *vals;
    size_t cap, n;
} m2a_history;

typedef struct m2a_manager {
    int kind;             /* M2A_MGR_* */
    char *name;           /* "gocd" or "mail" */
    char *url, *user, *passwd; /* gocd; user NULL: no auth */
    char *want_to, *want_from; /* messages-we-want (NULL when absent or empty) */
    m2a_rule *rules;
    size_t n_rules;
    /* gocd state, kept by main.c */
    m2a_groups *groups;   /* NULL until fetched */
    double groups_time;   /* loop time of the last fetch start */
    m2a_history history;
    void *fetch;          /* main.c's fetch in flight */
} m2a_manager;

typedef struct m2a_config {
    char *local_host;
    int local_port;
    char *remote_host;
    int remote_port;
    char *slack_token;  /* may be NULL */
    /* Our own optional keys (the original has none of these). */
    char *slack_url;    /* slack-url, default https://slack.com/api */
    char *spool_dir;    /* spool-dir: undeliverable mails are written here */
    double retry_for;   /* retry-for: seconds a mail is retried, default 3600 */
    double retry_max_delay; /* retry-max-delay: longest pause between tries, default 300 */
    double retry_first_delay; /* retry-first-delay: default 1 */
    double groups_max_age;    /* groups-max-age: pipeline groups older are fetched again, default 30 */
    int reply_first;          /* reply-first: 250 before the first forwarding attempt, default false */
    m2a_manager *managers;
    size_t n_managers;
} m2a_config;

/* Load the configuration from a file.  0, or a negative errno with a
 * message in err.  Unknown keys are ignored (as the original). */
int m2a_config_load(const char *path, m2a_config *cfg, char *err, size_t cap);
int m2a_config_from_text(const char *text, size_t len, m2a_config *cfg, char *err, size_t cap);
void m2a_config_free(m2a_config *cfg);

/* "host:port" -> host (malloc'd) and port; no ':' -> default_port.
 * -EINVAL for a bad port. */
int m2a_host_port(const char *text, int default_port, char **host, int *port);

/* ---- mails ---------------------------------------------------------------------- */

/* A growable byte buffer. */
typedef struct m2a_buf {
    char *p;
    size_t len, cap;
} m2a_buf;
/* Append n bytes (and keep a NUL after them): 0 or -ENOMEM.  Inline, since
 * the header surgery appends a few bytes at a time; m2a_buf_grow is the
 * slow path that makes room first. */
int m2a_buf_grow(m2a_buf *b, const void *p, size_t n);
static inline int m2a_buf_add(m2a_buf *b, const void *p, size_t n) {
    /* len < cap whenever cap != 0, so this is "len + n + 1 > cap" without
     * the sum that could wrap (gcc's -Wstringop-overflow sees the wrap). */
    if (n >= b->cap - b->len) return m2a_buf_grow(b, p, n);
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}
static inline int m2a_buf_adds(m2a_buf *b, const char *s) { return m2a_buf_add(b, s, strlen(s)); }

/* Insert "X-Peer: <ip>" + EOL before the first empty line of content
 * (the header/body separator; with that line's EOL), at the end if none.
 * Result in out (reset first). */
int m2a_insert_xpeer(const char *content, size_t len, const char *ip, m2a_buf *out);

/* The original's update_mail_to_from: every To and From field removed,
 * "To: r1, r2" and "From: <from>" added at the end of the header block,
 * header lines written "Name: value" with CRLF, body EOLs made CRLF. */
int m2a_update_to_from(const char *content, size_t len, const char *const *rcpts, size_t n, const char *from,
                       m2a_buf *out);

/* The first header field named name (case-insensitive) of content's
 * header block, unfolded (the CRLFs of continuation lines removed), with
 * RFC 2047 encoded words decoded to UTF-8.  NULL when absent. */
char *m2a_header(const char *content, size_t len, const char *name);
/* RFC 2047 decoding of an unfolded header value. */
char *m2a_rfc2047_decode(const char *s);
/* The body (after the header block), transfer-decoded (quoted-printable,
 * base64) as text. */
char *m2a_body_text(const char *content, size_t len);

/* A parsed GoCD mail: pipeline (NULL: the subject did not match) and
 * event, after edge detection against history (which is updated). */
typedef struct m2a_msg {
    char *subject;   /* decoded; "" when missing */
    char *pipeline;
    int event;       /* M2A_EV_NONE or M2A_* */
} m2a_msg;

/* Parse subject as the gocd plugin: pipeline, stage, event; with history
 * (may be NULL) applies the edge rules and records the new state. */
int m2a_gocd_parse(const char *subject, m2a_history *history, m2a_msg *msg);
void m2a_msg_clear(m2a_msg *msg);

/* State after an event, and the event a state implies after prev. */
int m2a_state_of_event(int event);
int m2a_state_after(int state, int prev);

int m2a_history_get(const m2a_history *h, const char *key);
int m2a_history_set(m2a_history *h, const char *key, int state);
void m2a_history_free(m2a_history *h);

/* cctray.xml: seed history from each two-part Project.  0, or a negative
 * errno (-EBADMSG: the XML does not parse; -EINVAL: an entry the original
 * would choke on: entries before it are kept). */
int m2a_parse_cctray(const char *xml, size_t len, m2a_history *h);

/* pipeline_groups JSON -> groups (owned by the caller: m2a_groups_free). */
int m2a_parse_groups(const char *json, size_t len, m2a_groups **out);
void m2a_groups_free(m2a_groups *g);

/* ---- rules ---------------------------------------------------------------------- */

/* Does the manager want the mail (to in rcpts, else from == mail_from)? */
int m2a_wants(const m2a_manager *m, const char *mail_from, const char *const *rcpts, size_t n);

/* Does the rule need the pipeline groups (in_group, name_like_in_group)? */
int m2a_rule_needs_groups(const m2a_rule *r);

/* Check one rule of manager kind against a message.  1: match, 0: no,
 * -EAGAIN: the rule needs pipeline groups and groups is NULL. */
int m2a_rule_check(int kind, const m2a_rule *r, const m2a_msg *msg, const m2a_groups *groups);

/* An action "kind:destination[:style]": 1 mailto, 2 slack, 0 unknown
 * (logged "Unexpected action: ..."); dest and style point into buf. */
enum { M2A_ACT_UNKNOWN = 0, M2A_ACT_MAILTO = 1, M2A_ACT_SLACK = 2 };
int m2a_action_parse(const char *text, char *buf, size_t cap, const char **dest, const char **style);

/* A string list. */
typedef struct m2a_strv {
    char **v;
    size_t n, cap;
} m2a_strv;
int m2a_strv_add(m2a_strv *s, const char *x);
void m2a_strv_free(m2a_strv *s);

/* A Slack post to make for a mail. */
typedef struct m2a_slack {
    char *channel, *style;
} m2a_slack;

/*
 * The manager's process_message: parse the mail, run every rule in
 * order, append the matching rules' mailto destinations to rcpts and
 * their slack actions to slack (channel\0style pairs as two strings each).
 * Returns 0, or -EAGAIN (groups needed and not there: nothing changed),
 * -ENOMEM.  msg receives the parsed message (caller clears it).
 */
int m2a_process(m2a_manager *m, const char *content, size_t len, m2a_strv *rcpts, m2a_strv *slack, m2a_msg *msg);

/* Slack colour of a message (by event; plain mail PRIMARY). */
const char *m2a_alert_color(int kind, int event);

/* The gocd manager's self-test report, appended to out as YAML at the
 * given nesting (as PyYAML's block style under a top-level key). */
int m2a_gocd_report_yaml(const m2a_manager *m, const m2a_groups *groups, m2a_buf *out);
/* The whole --test report for the managers (sorted by name, the last of
 * a repeated name wins), groups_of[i] the groups of manager i. */
int m2a_report_yaml(const m2a_config *cfg, m2a_groups *const *groups_of, m2a_buf *out);
/* Append a scalar as PyYAML's SafeDumper would write it. */
int m2a_yaml_scalar(m2a_buf *out, const char *s);

/* Global state: the compiled subject pattern.  Call once before use. */
int m2a_init(void);
void m2a_fini(void);

#endif
