/*
 * fuzz_m2a_config.c - the YAML configuration loader: any bytes give a
 * configuration or a clear error, never a crash, leak or hang; a loaded
 * configuration is also run through the --test report.
 */
#include "m2a.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        m2a_log_set_level(M2A_CRITICAL + 1);
        m2a_init();
        init = 1;
    }
    m2a_config cfg;
    char err[256];
    if (m2a_config_from_text((const char *)data, size, &cfg, err, sizeof err) < 0) {
        if (!err[0]) abort(); /* an error always says what */
        return 0;
    }
    m2a_groups *g = NULL;
    static const char groups[] = "[{\"name\": \"my-group\", \"pipelines\": [{\"name\": \"my-pipeline\"}]},"
                                 " {\"name\": \"g2\", \"pipelines\": []}]";
    m2a_parse_groups(groups, sizeof groups - 1, &g);
    m2a_groups **of = calloc(cfg.n_managers + 1, sizeof *of);
    for (size_t i = 0; of && i < cfg.n_managers; i++) of[i] = g;
    m2a_buf o = {0};
    if (of) m2a_report_yaml(&cfg, of, &o);
    free(o.p);
    free(of);
    m2a_groups_free(g);
    m2a_config_free(&cfg);
    return 0;
}
