/*
 * pg_users DSN - the seed's asyncpg program in C: create a table, insert a
 * row with a date parameter, fetch it back by name, print it, drop the table.
 *
 *     $ pg_users postgresql://postgres@127.0.0.1:5432/postgres
 *     Record(id=1, name='Bob', dob=1984-03-01)
 *
 * A bad DSN or an unreachable server: one line on stderr, exit status 1.
 */
#include <corio.h>
#include <corio/pg.h>

#include <stdio.h>

static int fail(corio_pg_conn *c, const char *what, int rc) {
    const corio_pg_error *e = corio_pg_last_error(c);
    fprintf(stderr, "pg_users: %s: %s\n", what, *e->message ? e->message : corio_pg_strerror(rc));
    corio_pg_close(c);
    return rc;
}

static int amain(void *arg) {
    const char *dsn = arg;
    char why[256] = "";
    corio_pg_conn *c;
    int rc = corio_pg_connect_ex(dsn, &(corio_pg_connect_opts){.errbuf = why, .errcap = sizeof why}, &c);
    if (rc < 0) {
        fprintf(stderr, "pg_users: cannot connect: %s\n", *why ? why : corio_pg_strerror(rc));
        return rc;
    }
    if ((rc = corio_pg_execute(c, "DROP TABLE IF EXISTS users", NULL, 0)) < 0) return fail(c, "drop", rc);
    rc = corio_pg_execute(c,
                          "CREATE TABLE users(\n"
                          "    id serial PRIMARY KEY,\n"
                          "    name text,\n"
                          "    dob date\n"
                          ")",
                          NULL, 0);
    if (rc < 0) return fail(c, "create", rc);
    rc = corio_pg_execute(c, "INSERT INTO users(name, dob) VALUES($1, $2)",
                          CORIO_PG_ARGS(corio_pg_text("Bob"), corio_pg_date_ymd(1984, 3, 1)));
    if (rc < 0) return fail(c, "insert", rc);

    corio_pg_result *row;
    rc = corio_pg_fetchrow(c, "SELECT * FROM users WHERE name = $1", CORIO_PG_ARGS(corio_pg_text("Bob")), &row);
    if (rc < 0) return fail(c, "select", rc);
    if (rc == 0) return fail(c, "select", CORIO_PG_ENULL);
    /* print it as asyncpg's Record does: name=value, text quoted */
    printf("Record(");
    for (int col = 0; col < corio_pg_ncols(row); col++) {
        char val[256];
        const char *text;
        printf("%s%s=", col ? ", " : "", corio_pg_colname(row, col));
        if (corio_pg_is_null(row, 0, col)) printf("None");
        else if (corio_pg_get_text(row, 0, col, &text, NULL) == 0) printf("'%s'", text);
        else if (corio_pg_get_str(row, 0, col, val, sizeof val) >= 0) printf("%s", val);
    }
    printf(")\n");
    corio_pg_result_free(row);

    if ((rc = corio_pg_execute(c, "DROP TABLE users", NULL, 0)) < 0) return fail(c, "drop", rc);
    corio_pg_close(c);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: pg_users DSN   (e.g. postgresql://postgres@127.0.0.1:5432/postgres)\n");
        return 1;
    }
    return corio_run(amain, argv[1]) < 0 ? 1 : 0;
}
