/* A program built against an installed corio (scripts/test-install.sh). */
#include <corio.h>
#include <stdio.h>

static int amain(void *arg) {
    (void)arg;
    int rc = corio_sleep(0.001);
    puts(rc == 0 ? "installed corio works" : "sleep failed");
    return rc;
}

int main(void) { return corio_run(amain, NULL) < 0; }
