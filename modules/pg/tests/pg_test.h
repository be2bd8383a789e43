/*
 * pg_test.h - a throwaway PostgreSQL 15 for a test program: started once
 * by pg_server_start() (tests/pg-server.sh as the postgres user when we
 * are root), stopped at exit.  When no server can start, the program
 * prints why and exits 77 (ctest's skip).
 */
#ifndef CORIO_PG_TEST_H
#define CORIO_PG_TEST_H

#include "test.h"
#include "net_util.h"

#include <corio/pg.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char pg_dir[64];
static int pg_port;
static char pg_dsn[256];    /* over TCP to 127.0.0.1 */
static char pg_dsn_unix[256]; /* over the Unix socket in pg_dir */

static void pg_server_stop(void) {
    if (!pg_dir[0]) return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s stop %s", PG_SERVER_SH, pg_dir);
    if (system(cmd) != 0) fprintf(stderr, "pg-server.sh stop failed\n");
    pg_dir[0] = 0;
}

static void pg_server_start(void) {
    snprintf(pg_dir, sizeof pg_dir, "/tmp/corio-pg-test.XXXXXX");
    if (!mkdtemp(pg_dir)) {
        perror("mkdtemp");
        exit(1);
    }
    char cmd[256];
    /* our pid: the script's watchdog stops the server if we die without
     * running atexit (a case's alarm, ctest's time limit) */
    snprintf(cmd, sizeof cmd, "%s start %s %d", PG_SERVER_SH, pg_dir, (int)getpid());
    FILE *f = popen(cmd, "r");
    int port = 0;
    if (!f || fscanf(f, "%d", &port) != 1) port = 0;
    int st = f ? pclose(f) : -1;
    if (port <= 0 || st != 0) {
        printf("SKIP: no PostgreSQL server could be started (see the reason above)\n");
        pg_server_stop();
        exit(77);
    }
    pg_port = port;
    atexit(pg_server_stop);
    snprintf(pg_dsn, sizeof pg_dsn, "postgresql://postgres@127.0.0.1:%d/postgres", port);
    snprintf(pg_dsn_unix, sizeof pg_dsn_unix, "host=%s port=%d user=postgres dbname=postgres", pg_dir, port);
    printf("server: PostgreSQL on 127.0.0.1:%d, socket in %s\n", port, pg_dir);
}

/* In a task: a connection to the test server, or NULL (and a failed check). */
static corio_pg_conn *pg_conn(void) {
    corio_pg_conn *c = NULL;
    char why[256] = "";
    int rc = corio_pg_connect_ex(pg_dsn, &(corio_pg_connect_opts){.errbuf = why, .errcap = sizeof why}, &c);
    if (rc < 0) fprintf(stderr, "connect: %s (%s)\n", corio_pg_strerror(rc), why);
    CHECK_EQ(rc, 0);
    return c;
}

/* Rows under valgrind are fewer: it runs every instruction 20-50x slower. */
static inline long pg_scale(long n, long under_valgrind) { return getenv("CORIO_TEST_BULK_MIB") ? under_valgrind : n; }

#endif
