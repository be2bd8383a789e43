/*
 * test_m2a_unit.c - the original's unit tests (test_actions, test_rules,
 * test_mail, test_config, test_gocd, test_server's LOGLEVEL and
 * update_mail_to_from), ported, plus the pieces we added (RFC 2047,
 * expandvars, the report's YAML).
 */
#include "m2a.h"
#include "test.h"

#include <locale.h>

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                               \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s == %s\n  got:  [%s]\n  want: [%s]\n", __FILE__, \
                    __LINE__, #a, #b, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                   \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

static const char test_config[] =
    "---\n"
    "local-smtp: localhost:1025\n"
    "remote-smtp: localhost:8025\n"
    "slack-token: $SLACK_TOKEN\n"
    "managers:\n"
    "  - name: gocd\n"
    "    url: http://localhost:8080/go\n"
    "    user: olle\n"
    "    passwd: pelle\n"
    "    messages-we-want:\n"
    "      to: mail2alert@example.com\n"
    "    rules:\n"
    "      - actions:\n"
    "          - mailto:cat@example.com\n"
    "        filter:\n"
    "          events:\n"
    "            - BREAKS\n"
    "          function: pipelines.in_group\n"
    "          args:\n"
    "            - my-group\n"
    "  - name: mail\n"
    "    messages-we-want:\n"
    "      from: go@example.com\n"
    "    rules:\n"
    "      - actions:\n"
    "          - mailto:sys@example.com\n"
    "          - mailto:op@example.com\n"
    "        filter:\n"
    "          function: mail.in_subject\n"
    "          args:\n"
    "            - server\n"
    "            - backup\n";

static int load(const char *text, m2a_config *cfg) {
    char err[256];
    int rc = m2a_config_from_text(text, strlen(text), cfg, err, sizeof err);
    if (rc < 0) fprintf(stderr, "config: %s\n", err);
    return rc;
}

/* test_config */
static void test_read_config(void) {
    m2a_config cfg;
    unsetenv("SLACK_TOKEN");
    CHECK_EQ(load(test_config, &cfg), 0);
    CHECK_STR(cfg.local_host, "localhost");
    CHECK_EQ(cfg.local_port, 1025);
    CHECK_STR(cfg.remote_host, "localhost");
    CHECK_EQ(cfg.remote_port, 8025);
    CHECK_STR(cfg.slack_token, "$SLACK_TOKEN"); /* unknown variables stay */
    CHECK_STR(cfg.slack_url, "https://slack.com/api");
    CHECK_EQ(cfg.n_managers, 2);
    CHECK_EQ(cfg.managers[0].kind, M2A_MGR_GOCD);
    CHECK_STR(cfg.managers[0].want_to, "mail2alert@example.com");
    CHECK_EQ(cfg.managers[0].n_rules, 1);
    CHECK_EQ(cfg.managers[0].rules[0].function, M2A_FN_IN_GROUP);
    CHECK_EQ(cfg.managers[1].kind, M2A_MGR_MAIL);
    CHECK_STR(cfg.managers[1].want_from, "go@example.com");
    CHECK_EQ(cfg.managers[1].rules[0].n_actions, 2);
    m2a_config_free(&cfg);
    setenv("SLACK_TOKEN", "xoxb-1", 1);
    CHECK_EQ(load(test_config, &cfg), 0);
    CHECK_STR(cfg.slack_token, "xoxb-1");
    m2a_config_free(&cfg);
    unsetenv("SLACK_TOKEN");
}

static void test_expandvars(void) {
    setenv("M2A_X", "ex", 1);
    unsetenv("M2A_NOPE");
    char *s = m2a_expandvars("a $M2A_X ${M2A_X}y $M2A_NOPE ${M2A_NOPE} $ $$ ${ ${} $M2A_X_");
    CHECK_STR(s, "a ex exy $M2A_NOPE ${M2A_NOPE} $ $$ ${ ${} $M2A_X_");
    free(s);
    /* in lists, nested maps, port and all */
    m2a_config cfg;
    setenv("M2A_PORT", "2525", 1);
    CHECK_EQ(load("local-smtp: h:$M2A_PORT\nremote-smtp: ${M2A_X}:25\nmanagers:\n- name: mail\n"
                  "  messages-we-want: {from: $M2A_X@x}\n  rules:\n  - actions: [mailto:$M2A_X]\n"
                  "    filter: {function: mail.in_subject, args: [$M2A_X]}\n",
                  &cfg),
             0);
    CHECK_EQ(cfg.local_port, 2525);
    CHECK_STR(cfg.remote_host, "ex");
    CHECK_STR(cfg.managers[0].want_from, "ex@x");
    CHECK_STR(cfg.managers[0].rules[0].actions[0], "mailto:ex");
    CHECK_STR(cfg.managers[0].rules[0].args[0], "ex");
    m2a_config_free(&cfg);
}

static void test_bad_configs(void) {
    static const char *bad[] = {
        "",
        "- a\n- b\n",
        "local-smtp: [\n",
        "remote-smtp: a:1\n",
        "local-smtp: a:x\nremote-smtp: b:1\n",
        "local-smtp: a:1:2\nremote-smtp: b:1\n",
        "local-smtp: a:1\nremote-smtp: b:1\nmanagers:\n- name: nope\n",
        "local-smtp: a:1\nremote-smtp: b:1\nmanagers:\n- name: gocd\n  rules: []\n",
        "local-smtp: a:1\nremote-smtp: b:1\nmanagers:\n- name: gocd\n  url: u\n  rules:\n"
        "  - filter: {function: mail.in_subject}\n",
        "local-smtp: a:1\nremote-smtp: b:1\nmanagers:\n- name: gocd\n  url: u\n  rules:\n"
        "  - filter: {function: pipelines.in_group}\n",
        "local-smtp: a:1\nremote-smtp: b:1\nmanagers:\n- name: gocd\n  url: u\n  rules:\n"
        "  - filter: {function: pipelines.name_like_in_group, args: ['(', g]}\n",
        "local-smtp: a:1\nremote-smtp: b:1\nretry-for: soon\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m2a_config cfg;
        char err[256] = "";
        int rc = m2a_config_from_text(bad[i], strlen(bad[i]), &cfg, err, sizeof err);
        if (rc >= 0) fprintf(stderr, "config %zu accepted\n", i);
        CHECK(rc < 0);
        CHECK(err[0] != 0);
    }
    m2a_config cfg;
    char err[256];
    CHECK(m2a_config_load("/nonexistent/m2a.yml", &cfg, err, sizeof err) == -ENOENT);
    /* no port: 25 */
    CHECK_EQ(load("local-smtp: a\nremote-smtp: b:1\n", &cfg), 0);
    CHECK_EQ(cfg.local_port, 25);
    m2a_config_free(&cfg);
}

/* test_server.GetLoglevelTests */
static void test_loglevel(void) {
    CHECK_EQ(m2a_loglevel_parse(NULL), M2A_INFO);
    CHECK_EQ(m2a_loglevel_parse("FATAL"), 50);
    CHECK_EQ(m2a_loglevel_parse("debug"), M2A_INFO);
    CHECK_EQ(m2a_loglevel_parse("debugg"), M2A_INFO);
    CHECK_EQ(m2a_loglevel_parse("DEBUG"), 10);
    CHECK_EQ(m2a_loglevel_parse("WARN"), 30);
    CHECK_EQ(m2a_loglevel_parse("WARNING"), 30);
    CHECK_EQ(m2a_loglevel_parse("CRITICAL"), 50);
    CHECK_EQ(m2a_loglevel_parse("ERROR"), 40);
    CHECK_EQ(m2a_loglevel_parse("NOTSET"), 0);
    CHECK_EQ(m2a_loglevel_parse(""), M2A_INFO);
}

/* test_actions */
static void test_actions(void) {
    char buf[256];
    const char *dest, *style;
    CHECK_EQ(m2a_action_parse("mailto:a@b.c", buf, sizeof buf, &dest, &style), M2A_ACT_MAILTO);
    CHECK_STR(dest, "a@b.c");
    CHECK_EQ(m2a_action_parse("mailtoooooo:d@e.f", buf, sizeof buf, &dest, &style), M2A_ACT_UNKNOWN);
    CHECK_EQ(m2a_action_parse("slack:#channel", buf, sizeof buf, &dest, &style), M2A_ACT_SLACK);
    CHECK_STR(dest, "#channel");
    CHECK_STR(style, "brief");
    CHECK_EQ(m2a_action_parse("slack:@user:full", buf, sizeof buf, &dest, &style), M2A_ACT_SLACK);
    CHECK_STR(dest, "@user");
    CHECK_STR(style, "full");
    CHECK_EQ(m2a_action_parse("nothing", buf, sizeof buf, &dest, &style), M2A_ACT_UNKNOWN);
}

/* test_rules: owner/name kept, a rule without them. */
static void test_rules(void) {
    m2a_config cfg;
    CHECK_EQ(load("local-smtp: a:1\nremote-smtp: b:1\nmanagers:\n- name: gocd\n  url: u\n  rules:\n"
                  "  - owner: o\n    name: n\n    actions: [mailto:a@b.c]\n"
                  "    filter: {events: [FAILS, BREAKS, FIXED], function: pipelines.in_group, args: [my_group]}\n"
                  "  - filter: {function: pipelines.any}\n",
                  &cfg),
             0);
    m2a_rule *r = &cfg.managers[0].rules[0];
    CHECK_STR(r->owner, "o");
    CHECK_STR(r->name, "n");
    CHECK_EQ(r->n_events, 3);
    CHECK_STR(r->events[2], "FIXED");
    CHECK_STR(r->args[0], "my_group");
    r = &cfg.managers[0].rules[1];
    CHECK(r->owner == NULL && r->name == NULL && r->n_actions == 0 && !r->has_events);
    m2a_config_free(&cfg);
}

static m2a_groups *groups_of(const char *json) {
    m2a_groups *g = NULL;
    CHECK_EQ(m2a_parse_groups(json, strlen(json), &g), 0);
    return g;
}

static const char groups_json[] =
    "[{\"pipelines\": [{\"name\": \"a-build\"}, {\"name\": \"a-test\"}], \"name\": \"alpha\"},"
    " {\"pipelines\": [{\"name\": \"b-build\"}, {\"name\": \"b-test\"}], \"name\": \"beta\"},"
    " {\"pipelines\": [{\"name\": \"a-test-release-x\"}, {\"name\": \"b-test-release-x\"}], \"name\": \"release\"}]";

static int check_pipeline(const m2a_rule *r, const m2a_groups *g, const char *pipeline) {
    m2a_msg msg = {.pipeline = (char *)pipeline, .event = M2A_BREAKS};
    return m2a_rule_check(M2A_MGR_GOCD, r, &msg, g);
}

/* test_gocd.GocdPipelinesTests */
static void test_pipelines(void) {
    m2a_groups *g = groups_of(groups_json);
    m2a_rule in_beta = {.function = M2A_FN_IN_GROUP, .args = (char *[]){"beta"}, .n_args = 1};
    CHECK_EQ(check_pipeline(&in_beta, g, "b-build"), 1);
    CHECK_EQ(check_pipeline(&in_beta, g, "b-test"), 1);
    CHECK_EQ(check_pipeline(&in_beta, g, "b-test-release-x"), 0);
    CHECK_EQ(check_pipeline(&in_beta, g, "a-test"), 0);
    m2a_rule in_none = {.function = M2A_FN_IN_GROUP, .args = (char *[]){"betaxxx"}, .n_args = 1};
    CHECK_EQ(check_pipeline(&in_none, g, "b-build"), 0);
    CHECK_EQ(check_pipeline(&in_none, g, "a-test"), 0);
    m2a_rule any = {.function = M2A_FN_ANY};
    CHECK_EQ(check_pipeline(&any, g, "b-build"), 1);
    CHECK_EQ(check_pipeline(&any, g, "a-test"), 1);
    CHECK_EQ(check_pipeline(&any, NULL, "a-test"), 1);
    CHECK_EQ(check_pipeline(&in_beta, NULL, "a-test"), -EAGAIN);
    m2a_groups_free(g);

    m2a_config cfg;
    CHECK_EQ(load("local-smtp: a:1\nremote-smtp: b:1\nmanagers:\n- name: gocd\n  url: u\n  rules:\n"
                  "  - filter: {function: pipelines.name_like_in_group, args: ['(.+)-release.*', beta]}\n",
                  &cfg),
             0);
    g = groups_of(groups_json);
    const m2a_rule *like = &cfg.managers[0].rules[0];
    CHECK_EQ(check_pipeline(like, g, "b-build"), 0);
    CHECK_EQ(check_pipeline(like, g, "b-test"), 0);
    CHECK_EQ(check_pipeline(like, g, "b-test-release-x"), 1);
    CHECK_EQ(check_pipeline(like, g, "a-test"), 0);
    m2a_groups_free(g);
    m2a_config_free(&cfg);
}

/* test_gocd.GocdRuleTests: five cases */
static void test_gocd_rule_check(void) {
    m2a_groups *g = groups_of("[{\"name\": \"g1\", \"pipelines\": [{\"name\": \"p1\"}]}]");
    m2a_rule r = {.has_events = 1, .events = (char *[]){"FAILS", "BREAKS"}, .n_events = 2,
                  .function = M2A_FN_IN_GROUP, .args = (char *[]){"g1"}, .n_args = 1};
    m2a_msg ok = {.pipeline = "p1", .event = M2A_BREAKS};
    CHECK_EQ(m2a_rule_check(M2A_MGR_GOCD, &r, &ok, g), 1);
    m2a_msg wrong_event = {.pipeline = "p1", .event = M2A_CANCELLED};
    CHECK_EQ(m2a_rule_check(M2A_MGR_GOCD, &r, &wrong_event, g), 0);
    m2a_msg wrong_pipeline = {.pipeline = "p2", .event = M2A_BREAKS};
    CHECK_EQ(m2a_rule_check(M2A_MGR_GOCD, &r, &wrong_pipeline, g), 0);
    m2a_msg no_event = {.pipeline = "p2", .event = M2A_EV_NONE};
    CHECK_EQ(m2a_rule_check(M2A_MGR_GOCD, &r, &no_event, g), 0);
    m2a_rule no_events = {.function = M2A_FN_IN_GROUP, .args = (char *[]){"g1"}, .n_args = 1};
    CHECK_EQ(m2a_rule_check(M2A_MGR_GOCD, &no_events, &ok, g), 1);
    m2a_groups_free(g);
}

/* test_gocd.ManagerTests: wants_message (4) */
static void test_wants(void) {
    m2a_manager from = {.want_from = "krumelur@example.com"};
    const char *none[] = {NULL};
    CHECK_EQ(m2a_wants(&from, "krumelur@example.com", none, 0), 1);
    CHECK_EQ(m2a_wants(&from, "easterbunny@example.com", none, 0), 0);
    m2a_manager to = {.want_to = "krumelur@example.com"};
    const char *r1[] = {"krumelur@example.com"};
    CHECK_EQ(m2a_wants(&to, "", r1, 1), 1);
    m2a_manager to2 = {.want_to = "not@example.com"};
    CHECK_EQ(m2a_wants(&to2, "", r1, 1), 0);
    /* 'to' wins when both are given */
    m2a_manager both = {.want_to = "x@y", .want_from = "krumelur@example.com"};
    CHECK_EQ(m2a_wants(&both, "krumelur@example.com", r1, 1), 0);
    /* exact and case-sensitive */
    const char *r2[] = {"Krumelur@example.com"};
    CHECK_EQ(m2a_wants(&to, "", r2, 1), 0);
}

static const char report_config[] =
    "local-smtp: a:1\nremote-smtp: b:1\nmanagers:\n- name: gocd\n  url: u\n  rules:\n"
    "  - actions: ['mailto:we@example.com']\n"
    "    filter: {events: [BREAKS, FIXED], function: pipelines.in_group, args: [g1]}\n"
    "  - actions: ['mailto:them@example.com']\n"
    "    filter: {events: [FAILS], function: pipelines.in_group, args: [g2]}\n"
    "  - actions: ['mailto:nosy@example.com']\n"
    "    filter: {events: [FAILS, CANCELLED], function: pipelines.any}\n"
    "- name: mail\n  messages-we-want: {from: x}\n";

/* test_gocd.ManagerTests.test_test (as YAML, the way --test prints it) */
static void test_report(void) {
    m2a_config cfg;
    CHECK_EQ(load(report_config, &cfg), 0);
    m2a_groups *g = groups_of("[{\"name\": \"g1\", \"pipelines\": [{\"name\": \"p11\", \"extra\": \"removed\"},"
                              " {\"name\": \"p12\"}]}, {\"name\": \"g2\", \"pipelines\": [{\"name\": \"p21\"}]}]");
    m2a_groups *of[2] = {g, NULL};
    m2a_buf o = {0};
    CHECK_EQ(m2a_report_yaml(&cfg, of, &o), 0);
    CHECK_STR(o.p, "gocd:\n"
                   "- pipeline_group: g1\n"
                   "  pipelines:\n"
                   "  - alerts:\n"
                   "    - actions:\n"
                   "      - mailto:we@example.com\n"
                   "      events:\n"
                   "      - BREAKS\n"
                   "      - FIXED\n"
                   "    - actions:\n"
                   "      - mailto:nosy@example.com\n"
                   "      events:\n"
                   "      - CANCELLED\n"
                   "      - FAILS\n"
                   "    pipeline: p11\n"
                   "  - alerts:\n"
                   "    - actions:\n"
                   "      - mailto:we@example.com\n"
                   "      events:\n"
                   "      - BREAKS\n"
                   "      - FIXED\n"
                   "    - actions:\n"
                   "      - mailto:nosy@example.com\n"
                   "      events:\n"
                   "      - CANCELLED\n"
                   "      - FAILS\n"
                   "    pipeline: p12\n"
                   "- pipeline_group: g2\n"
                   "  pipelines:\n"
                   "  - alerts:\n"
                   "    - actions:\n"
                   "      - mailto:nosy@example.com\n"
                   "      events:\n"
                   "      - CANCELLED\n"
                   "      - FAILS\n"
                   "    - actions:\n"
                   "      - mailto:them@example.com\n"
                   "      events:\n"
                   "      - FAILS\n"
                   "    pipeline: p21\n"
                   "mail: null\n");
    free(o.p);
    m2a_groups_free(g);
    m2a_config_free(&cfg);

    /* the test configuration's report (test_server.test_self_test_yaml) */
    CHECK_EQ(load(test_config, &cfg), 0);
    g = groups_of("[{\"pipelines\": [{\"name\": \"my-pipeline\"}], \"name\": \"my-group\"}]");
    of[0] = g;
    o = (m2a_buf){0};
    CHECK_EQ(m2a_report_yaml(&cfg, of, &o), 0);
    CHECK_STR(o.p, "gocd:\n- pipeline_group: my-group\n  pipelines:\n  - alerts:\n    - actions:\n"
                   "      - mailto:cat@example.com\n      events:\n      - BREAKS\n    pipeline: my-pipeline\n"
                   "mail: null\n");
    free(o.p);
    m2a_groups_free(g);
    m2a_config_free(&cfg);
}

static void test_yaml_scalars(void) {
    static const char *cases[][2] = {
        {"plain", "plain"},       {"mailto:a@b", "mailto:a@b"}, {"slack:#c", "slack:#c"}, {"yes", "'yes'"},
        {"123", "'123'"},         {"1.5", "'1.5'"},             {"", "''"},               {"a: b", "'a: b'"},
        {"#x", "'#x'"},           {"it's", "it's"},             {"'q", "'''q'"},          {"null", "'null'"},
        {"- x", "'- x'"},         {"-x", "-x"},                 {"tr\xc3\xa4" "d", "\"tr\\xE4d\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m2a_buf o = {0};
        m2a_buf_add(&o, "", 0);
        CHECK_EQ(m2a_yaml_scalar(&o, cases[i][0]), 0);
        CHECK_STR(o.p, cases[i][1]);
        free(o.p);
    }
}

typedef struct parse_case {
    const char *mail;
    int event;
    const char *pipeline;
} parse_case;

/* test_gocd.MessageTests: the 7 subject parses, folded subject included */
static void test_subject_parses(void) {
    static const parse_case cases[] = {
        {"Subject: Stage [my-pipeline/232/my-stage/1] is fixed\n\n", M2A_FIXED, "my-pipeline"},
        {"Subject: Stage [my-pipeline/232/my-stage/1] is broken\n\n", M2A_BREAKS, "my-pipeline"},
        {"Subject: Stage [my-pipeline/232/my-stage/1] is cancelled\n\n", M2A_CANCELLED, "my-pipeline"},
        {"Subject: Stage [my-pipeline/232/my-stage/1] passed\n\n", M2A_PASSES, "my-pipeline"},
        {"Subject: Stage [my-pipeline/232/my-stage/1] failed\n\n", M2A_FAILS, "my-pipeline"},
        {"Subject: Stage [my-pipeline/2/stage/1] \r\n failed\r\n\r\n", M2A_FAILS, "my-pipeline"},
        {"Subject: Stage [my-pipeline/232/my-stage/1] other\n\n", M2A_EV_NONE, "my-pipeline"},
        {"Subject: not my cup of tea\r\n\r\n", M2A_EV_NONE, NULL},
        {"Subject: =?utf-8?q?Stage_=5Bmy-pipeline/2/st=C3=A4ge/1=5D_failed?=\r\n\r\n", M2A_FAILS, "my-pipeline"},
        {"Subject: =?utf-8?b?U3RhZ2UgW3DDpGxlLzIvcy8xXSBwYXNzZWQ=?=\r\n\r\n", M2A_PASSES, "p\xc3\xa4le"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *subject = m2a_header(cases[i].mail, strlen(cases[i].mail), "subject");
        CHECK(subject != NULL);
        m2a_msg msg = {0};
        CHECK_EQ(m2a_gocd_parse(subject ? subject : "", NULL, &msg), 0);
        if (msg.event != cases[i].event) fprintf(stderr, "case %zu: subject [%s]\n", i, subject);
        CHECK_EQ(msg.event, cases[i].event);
        if (cases[i].pipeline) CHECK_STR(msg.pipeline, cases[i].pipeline);
        else CHECK(msg.pipeline == NULL);
        free(subject);
        m2a_msg_clear(&msg);
    }
}

/* test_gocd: the history cases and BuildStateTests */
static void test_edges(void) {
    static const struct {
        const char *status;
        int prev, want_event, want_state;
    } cases[] = {
        {"failed", M2A_STATE_SUCCESS, M2A_BREAKS, M2A_STATE_FAILURE},
        {"is broken", M2A_STATE_FAILURE, M2A_BREAKS, M2A_STATE_FAILURE},
        {"passed", M2A_STATE_FAILURE, M2A_FIXED, M2A_STATE_SUCCESS},
        {"is fixed", M2A_STATE_SUCCESS, M2A_FIXED, M2A_STATE_SUCCESS},
        {"failed", M2A_STATE_FAILURE, M2A_FAILS, M2A_STATE_FAILURE},
        {"passed", M2A_STATE_SUCCESS, M2A_PASSES, M2A_STATE_SUCCESS},
        {"failed", M2A_STATE_UNKNOWN, M2A_FAILS, M2A_STATE_FAILURE},
        {"is cancelled", M2A_STATE_FAILURE, M2A_CANCELLED, M2A_STATE_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m2a_history h = {0};
        if (cases[i].prev != M2A_STATE_UNKNOWN) m2a_history_set(&h, "my_pipeline/stage", cases[i].prev);
        char subject[128];
        snprintf(subject, sizeof subject, "Stage [my_pipeline/2/stage/1]  %s", cases[i].status);
        m2a_msg msg = {0};
        CHECK_EQ(m2a_gocd_parse(subject, &h, &msg), 0);
        CHECK_EQ(msg.event, cases[i].want_event);
        CHECK_STR(msg.pipeline, "my_pipeline");
        CHECK_EQ(m2a_history_get(&h, "my_pipeline/stage"), cases[i].want_state);
        m2a_msg_clear(&msg);
        m2a_history_free(&h);
    }
    CHECK_EQ(m2a_state_after(M2A_STATE_SUCCESS, M2A_STATE_SUCCESS), M2A_PASSES);
    CHECK_EQ(m2a_state_after(M2A_STATE_SUCCESS, M2A_STATE_FAILURE), M2A_FIXED);
    CHECK_EQ(m2a_state_after(M2A_STATE_SUCCESS, M2A_STATE_UNKNOWN), M2A_FIXED);
    CHECK_EQ(m2a_state_after(M2A_STATE_FAILURE, M2A_STATE_SUCCESS), M2A_BREAKS);
    CHECK_EQ(m2a_state_after(M2A_STATE_FAILURE, M2A_STATE_FAILURE), M2A_FAILS);
    CHECK_EQ(m2a_state_after(M2A_STATE_FAILURE, M2A_STATE_UNKNOWN), M2A_BREAKS);
    CHECK_EQ(m2a_state_after(M2A_STATE_UNKNOWN, M2A_STATE_UNKNOWN), M2A_EV_NONE);
    CHECK_EQ(m2a_state_of_event(M2A_PASSES), M2A_STATE_SUCCESS);
    CHECK_EQ(m2a_state_of_event(M2A_FIXED), M2A_STATE_SUCCESS);
    CHECK_EQ(m2a_state_of_event(M2A_FAILS), M2A_STATE_FAILURE);
    CHECK_EQ(m2a_state_of_event(M2A_BREAKS), M2A_STATE_FAILURE);
    CHECK_EQ(m2a_state_of_event(M2A_CANCELLED), M2A_STATE_UNKNOWN);
    /* many keys: the table grows */
    m2a_history h = {0};
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "p%d/s", i);
        CHECK_EQ(m2a_history_set(&h, key, 1 + i % 2), 0);
    }
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "p%d/s", i);
        bad += m2a_history_get(&h, key) != 1 + i % 2;
    }
    CHECK_EQ(bad, 0);
    m2a_history_free(&h);
}

/* test_gocd.ManagerTests.test_process_message_edge_detect */
static void test_process_edge_detect(void) {
    m2a_config cfg;
    CHECK_EQ(load("local-smtp: a:1\nremote-smtp: b:1\nmanagers:\n- name: gocd\n  url: u\n  rules:\n"
                  "  - actions: ['mailto:nosy@example.com']\n    filter: {events: [BREAKS], function: pipelines.any}\n",
                  &cfg),
             0);
    m2a_manager *m = &cfg.managers[0];
    m2a_history_set(&m->history, "my-pipeline/my-stage", M2A_STATE_SUCCESS);
    static const char mail[] = "Subject: Stage [my-pipeline/232/my-stage/1] failed\r\nFrom: sender@example.com\r\n"
                               "To: receiver@example.com\r\n\r\ntest\r\n";
    m2a_strv rcpts = {0}, slack = {0};
    m2a_msg msg;
    CHECK_EQ(m2a_process(m, mail, strlen(mail), &rcpts, &slack, &msg), 0);
    CHECK_EQ(rcpts.n, 1);
    if (rcpts.n) CHECK_STR(rcpts.v[0], "nosy@example.com");
    CHECK_EQ(msg.event, M2A_BREAKS);
    m2a_msg_clear(&msg);
    m2a_strv_free(&rcpts);
    m2a_strv_free(&slack);
    m2a_config_free(&cfg);
}

/* mail manager: in_subject, slack actions collected, duplicates kept */
static void test_mail_manager(void) {
    m2a_config cfg;
    CHECK_EQ(load(test_config, &cfg), 0);
    m2a_manager *m = &cfg.managers[1];
    static const char backup[] = "Subject: Server Backup Completed Successfully\r\n\r\nok\r\n";
    m2a_strv rcpts = {0}, slack = {0};
    m2a_msg msg;
    CHECK_EQ(m2a_process(m, backup, strlen(backup), &rcpts, &slack, &msg), 0);
    CHECK_EQ(rcpts.n, 2);
    if (rcpts.n == 2) {
        CHECK_STR(rcpts.v[0], "sys@example.com");
        CHECK_STR(rcpts.v[1], "op@example.com");
    }
    m2a_msg_clear(&msg);
    m2a_strv_free(&rcpts);
    static const char other[] = "Subject: Stage [my-pipeline/2/my-stage/1] failed\r\n\r\nok\r\n";
    CHECK_EQ(m2a_process(m, other, strlen(other), &rcpts, &slack, &msg), 0);
    CHECK_EQ(rcpts.n, 0);
    m2a_msg_clear(&msg);
    /* UTF-8 words, case-insensitively */
    m2a_rule r = {.function = M2A_FN_IN_SUBJECT, .args = (char *[]){"\xc3\x84PPLE", "sERVER"}, .n_args = 2};
    m2a_msg um = {.subject = "Server \xc3\xa4pple ok"};
    CHECK_EQ(m2a_rule_check(M2A_MGR_MAIL, &r, &um, NULL), 1);
    m2a_msg um2 = {.subject = "Server apple ok"};
    CHECK_EQ(m2a_rule_check(M2A_MGR_MAIL, &r, &um2, NULL), 0);
    m2a_config_free(&cfg);

    CHECK_EQ(load("local-smtp: a:1\nremote-smtp: b:1\nmanagers:\n- name: mail\n  rules:\n"
                  "  - actions: [mailto:a@x, 'slack:#c', 'slack:@u:full', bogus:z]\n"
                  "    filter: {function: mail.in_subject}\n"
                  "  - actions: [mailto:a@x]\n    filter: {function: mail.in_subject, args: [x]}\n",
                  &cfg),
             0);
    static const char x[] = "Subject: x\r\n\r\n";
    CHECK_EQ(m2a_process(&cfg.managers[0], x, strlen(x), &rcpts, &slack, &msg), 0);
    CHECK_EQ(rcpts.n, 2);
    CHECK_EQ(slack.n, 4);
    if (slack.n == 4) {
        CHECK_STR(slack.v[0], "#c");
        CHECK_STR(slack.v[1], "brief");
        CHECK_STR(slack.v[2], "@u");
        CHECK_STR(slack.v[3], "full");
    }
    m2a_msg_clear(&msg);
    m2a_strv_free(&rcpts);
    m2a_strv_free(&slack);
    m2a_config_free(&cfg);
}

/* groups needed and missing: -EAGAIN before the history changes */
static void test_process_no_groups(void) {
    m2a_config cfg;
    CHECK_EQ(load(test_config, &cfg), 0);
    m2a_manager *m = &cfg.managers[0];
    static const char mail[] = "Subject: Stage [my-pipeline/2/my-stage/1] failed\r\n\r\n";
    m2a_strv rcpts = {0};
    m2a_msg msg;
    CHECK_EQ(m2a_process(m, mail, strlen(mail), &rcpts, NULL, &msg), -EAGAIN);
    m2a_msg_clear(&msg);
    CHECK_EQ(m2a_history_get(&m->history, "my-pipeline/my-stage"), M2A_STATE_UNKNOWN);
    m->groups = groups_of("[{\"pipelines\": [{\"name\": \"my-pipeline\"}], \"name\": \"my-group\"}]");
    CHECK_EQ(m2a_process(m, mail, strlen(mail), &rcpts, NULL, &msg), 0);
    CHECK_EQ(msg.event, M2A_FAILS); /* no history: "failed" stays FAILS */
    m2a_msg_clear(&msg);
    m2a_strv_free(&rcpts);
    m2a_config_free(&cfg);
}

/* test_gocd.ManagerTests.test_parse_cctray */
static void test_cctray(void) {
    static const char xml[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Projects>\n"
        "  <Project name=\"p1 :: build\" activity=\"Sleeping\" lastBuildStatus=\"Success\" lastBuildLabel=\"22\""
        " lastBuildTime=\"2017-05-29T13:27:55\" webUrl=\"x\"/>\n"
        "  <Project name=\"p1 :: build :: defaultJob\" lastBuildStatus=\"Failure\" lastBuildTime=\"2017-05-29T13:27:55\"/>\n"
        "  <Project name=\"p2 :: build\" lastBuildStatus=\"Success\" lastBuildTime=\"2017-05-24T10:16:16\"/>\n"
        "  <Project name=\"p2 :: test\" lastBuildStatus=\"Failure\" lastBuildTime=\"2017-05-24T10:16:16\"/>\n"
        "  <Project name=\"p2 :: test :: EJB\" lastBuildStatus=\"Success\" lastBuildTime=\"2017-05-24T10:16:16\"/>\n"
        "  <Other><Project name=\"p3 :: deep\" lastBuildStatus=\"Failure\" lastBuildTime=\"1\"/></Other>\n"
        "</Projects>";
    m2a_history h = {0};
    CHECK_EQ(m2a_parse_cctray(xml, strlen(xml), &h), 0);
    CHECK_EQ(m2a_history_get(&h, "p1/build"), M2A_STATE_SUCCESS);
    CHECK_EQ(m2a_history_get(&h, "p2/build"), M2A_STATE_SUCCESS);
    CHECK_EQ(m2a_history_get(&h, "p2/test"), M2A_STATE_FAILURE);
    CHECK_EQ(m2a_history_get(&h, "p3/deep"), M2A_STATE_UNKNOWN);
    m2a_history_free(&h);
    /* an unknown status stops the parse there (the original's KeyError) */
    static const char bad[] = "<Projects><Project name=\"a :: s\" lastBuildStatus=\"Success\" lastBuildTime=\"1\"/>"
                              "<Project name=\"b :: s\" lastBuildStatus=\"Unknown\" lastBuildTime=\"1\"/>"
                              "<Project name=\"c :: s\" lastBuildStatus=\"Failure\" lastBuildTime=\"1\"/></Projects>";
    CHECK_EQ(m2a_parse_cctray(bad, strlen(bad), &h), -EINVAL);
    CHECK_EQ(m2a_history_get(&h, "a/s"), M2A_STATE_SUCCESS);
    CHECK_EQ(m2a_history_get(&h, "c/s"), M2A_STATE_UNKNOWN);
    m2a_history_free(&h);
    CHECK(m2a_parse_cctray("<Projects><Project", 18, &h) < 0);
    m2a_history_free(&h);
}

static void test_groups_json(void) {
    m2a_groups *g = NULL;
    CHECK(m2a_parse_groups("{}", 2, &g) < 0 && g == NULL);
    CHECK(m2a_parse_groups("[1]", 3, &g) < 0 && g == NULL);
    CHECK(m2a_parse_groups("nope", 4, &g) < 0 && g == NULL);
    CHECK_EQ(m2a_parse_groups("[]", 2, &g), 0);
    CHECK(g && g->n == 0);
    m2a_groups_free(g);
}

/* test_server.UpdateMailTests */
static const char roundtrip[] =
    "Date: Wed, 19 Apr 2017 10:42:11 +0200\r\n"
    "Sender: <go@pagero.com>\r\n"
    "Reply-To: <go@pagero.com>\r\n"
    "Subject: Stage [my-pipeline/6/my-stage/1] is broken\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=\"UTF-8\"\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "Return-Path: go@pagero.com\r\n"
    "To: mail2alert@example.com\r\n"
    "From: go@pagero.com\r\n"
    "\r\n"
    "See details: http://go.pagero.local/go/pipelines/create-pagero-online-relea=\r\n"
    "se/6/SetupGoCDReleaseGroup/1\r\n"
    "\r\n"
    "-- CHECK-INS --\r\n"
    "\r\n"
    "Git: ssh://git@git/config/gocd-create-group-of-pipelines\r\n"
    "revision: 1f5557f803c998b7ae010dba9ff7fbdf71cab346, modified by Magnus Lyck=\r\n"
    "=C3=A5 <magnusl@pagero.com> on 2017-03-15 16:31:40.0\r\n"
    "\r\n"
    "Sent by Go on behalf of ex0247\r\n"
    "\r\n";

static void test_update_mail_to_from(void) {
    m2a_buf o = {0};
    const char *to[] = {"mail2alert@example.com"};
    CHECK_EQ(m2a_update_to_from(roundtrip, strlen(roundtrip), to, 1, "go@pagero.com", &o), 0);
    CHECK_EQ(o.len, strlen(roundtrip));
    CHECK(o.p && memcmp(o.p, roundtrip, strlen(roundtrip)) == 0);

    static const char msg[] = "Subject: a test\r\nFrom: Test Sender <test_from@example.com>\r\n"
                              "To: Test 0 <test_0@example.com>, Test 1 <test_1@example.com>\r\n"
                              "Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: 8bit\r\n"
                              "MIME-Version: 1.0\r\n\r\ntest \xc3\xa5\xc3\xa4\xc3\xb6\r\n";
    const char *nt[] = {"newto@example.com"};
    CHECK_EQ(m2a_update_to_from(msg, strlen(msg), nt, 1, "newfrom@example.com", &o), 0);
    char *t = m2a_header(o.p, o.len, "To"), *f = m2a_header(o.p, o.len, "From");
    CHECK_STR(t, "newto@example.com");
    CHECK_STR(f, "newfrom@example.com");
    free(t);
    free(f);
    CHECK(strstr(o.p, "MIME-Version: 1.0\r\nTo: newto@example.com\r\nFrom: newfrom@example.com\r\n\r\ntest ") != NULL);

    /* Python's generator: "Name:value" -> "Name: value", LF -> CRLF,
     * folded fields keep their lines, several To fields all go. */
    static const char lf[] = "Subject:x\nTo: a\nX-Long: one\n two\nto: b\n\nbody\nmore\n";
    const char *two[] = {"c@x", "c@x"};
    CHECK_EQ(m2a_update_to_from(lf, strlen(lf), two, 2, "f@x", &o), 0);
    CHECK_STR(o.p, "Subject: x\r\nX-Long: one\r\n two\r\nTo: c@x, c@x\r\nFrom: f@x\r\n\r\nbody\r\nmore\r\n");
    /* no separator line */
    static const char nosep[] = "Subject: x\r\n";
    CHECK_EQ(m2a_update_to_from(nosep, strlen(nosep), to, 1, "f@x", &o), 0);
    CHECK_STR(o.p, "Subject: x\r\nTo: mail2alert@example.com\r\nFrom: f@x\r\n\r\n");
    /* a long To is folded after a comma */
    const char *many[] = {"aaaaaaaaaaaaaaaaaaaa@example.com", "bbbbbbbbbbbbbbbbbbbb@example.com",
                          "cccccccccccccccccccc@example.com"};
    CHECK_EQ(m2a_update_to_from(nosep, strlen(nosep), many, 3, "f@x", &o), 0);
    CHECK_STR(o.p, "Subject: x\r\nTo: aaaaaaaaaaaaaaaaaaaa@example.com, bbbbbbbbbbbbbbbbbbbb@example.com,\r\n"
                   " cccccccccccccccccccc@example.com\r\nFrom: f@x\r\n\r\n");
    /* Long unstructured fields are refolded as Python refolds them
     * (expectations made by Python 3.11's email package). */
    static const struct {
        const char *in, *out;
    } folds[] = {
        {"Subject: Stage [customer-portal-backend-integration-tests/1234/functional-tests/1] failed\r\n\r\nb\r\n",
         "Subject: Stage\r\n [customer-portal-backend-integration-tests/1234/functional-tests/1] failed\r\n"
         "To: cat@example.com\r\nFrom: go@example.com\r\n\r\nb\r\n"},
        {"Subject: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n",
         "Subject:\r\n aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n"
         "To: cat@example.com\r\nFrom: go@example.com\r\n\r\n"},
        {"X-Long: w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  \r\n\r\n",
         "X-Long: w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w  w\r\n  w  w  w  w  w  w  \r\n"
         "To: cat@example.com\r\nFrom: go@example.com\r\n\r\n"},
    };
    const char *cat[] = {"cat@example.com"};
    for (size_t i = 0; i < sizeof folds / sizeof folds[0]; i++) {
        CHECK_EQ(m2a_update_to_from(folds[i].in, strlen(folds[i].in), cat, 1, "go@example.com", &o), 0);
        CHECK_STR(o.p, folds[i].out);
    }
    free(o.p);
}

static void test_xpeer(void) {
    m2a_buf o = {0};
    static const char a[] = "Subject: x\r\n\r\nbody\r\n\r\nmore\r\n";
    CHECK_EQ(m2a_insert_xpeer(a, strlen(a), "127.0.0.1", &o), 0);
    CHECK_STR(o.p, "Subject: x\r\nX-Peer: 127.0.0.1\r\n\r\nbody\r\n\r\nmore\r\n");
    static const char b[] = "Subject: x\n\nbody\n";
    CHECK_EQ(m2a_insert_xpeer(b, strlen(b), "::1", &o), 0);
    CHECK_STR(o.p, "Subject: x\nX-Peer: ::1\n\nbody\n");
    static const char c[] = "Subject: x\r\n";
    CHECK_EQ(m2a_insert_xpeer(c, strlen(c), "1.2.3.4", &o), 0);
    CHECK_STR(o.p, "Subject: x\r\nX-Peer: 1.2.3.4\r\n");
    CHECK_EQ(m2a_insert_xpeer("", 0, "1.2.3.4", &o), 0);
    CHECK_STR(o.p, "X-Peer: 1.2.3.4\r\n");
    free(o.p);
}

static void test_rfc2047(void) {
    static const char *cases[][2] = {
        {"plain text", "plain text"},
        {"=?utf-8?q?r=C3=A4ksm=C3=B6rg=C3=A5s?=", "r\xc3\xa4ksm\xc3\xb6rg\xc3\xa5s"},
        {"=?UTF-8?B?w6XDpMO2?= and =?iso-8859-1?q?=E5?=", "\xc3\xa5\xc3\xa4\xc3\xb6 and \xc3\xa5"},
        {"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"},
        {"=?utf-8?q?a_b?=  x", "a b  x"},
        {"=?bogus", "=?bogus"},
        {"=?utf-8?x?abc?=", "=?utf-8?x?abc?="},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = m2a_rfc2047_decode(cases[i][0]);
        CHECK_STR(d, cases[i][1]);
        free(d);
    }
    /* test_mail: the body as text */
    static const char qp[] = "Content-Transfer-Encoding: quoted-printable\r\n\r\nLyck=\r\n=C3=A5 x=3D1\r\n";
    char *b = m2a_body_text(qp, strlen(qp));
    CHECK_STR(b, "Lyck\xc3\xa5 x=1\n");
    free(b);
    static const char plain[] = "Subject: About\r\n\r\nbody body body.\r\n";
    b = m2a_body_text(plain, strlen(plain));
    CHECK_STR(b, "body body body.\n");
    free(b);
}

int main(void) {
    setlocale(LC_CTYPE, "C.UTF-8");
    m2a_log_set_level(getenv("M2A_TEST_LOG") ? M2A_DEBUG : M2A_CRITICAL + 1);
    CHECK_EQ(m2a_init(), 0);
    RUN_TEST(test_read_config);
    RUN_TEST(test_expandvars);
    RUN_TEST(test_bad_configs);
    RUN_TEST(test_loglevel);
    RUN_TEST(test_actions);
    RUN_TEST(test_rules);
    RUN_TEST(test_pipelines);
    RUN_TEST(test_gocd_rule_check);
    RUN_TEST(test_wants);
    RUN_TEST(test_report);
    RUN_TEST(test_yaml_scalars);
    RUN_TEST(test_subject_parses);
    RUN_TEST(test_edges);
    RUN_TEST(test_process_edge_detect);
    RUN_TEST(test_mail_manager);
    RUN_TEST(test_process_no_groups);
    RUN_TEST(test_cctray);
    RUN_TEST(test_groups_json);
    RUN_TEST(test_update_mail_to_from);
    RUN_TEST(test_xpeer);
    RUN_TEST(test_rfc2047);
    m2a_fini();
    TEST_MAIN_END();
}
