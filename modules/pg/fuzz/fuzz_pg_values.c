/*
 * fuzz_pg_values - the decoders of PostgreSQL's binary values (the bytes
 * come from the network): any bytes, as any type, must format without
 * reading out of bounds, and a truncated buffer must get a prefix of the
 * full text (snprintf's contract).  Input: 1 byte choosing the type, then
 * the value.  Arrays are also opened and walked with every element reader
 * (corio_pg_array_*): any bytes give an error or elements within the
 * value, never a read past it.
 */
#include "pg_values.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t types[] = {CORIO_PG_BOOL, CORIO_PG_INT2, CORIO_PG_INT4, CORIO_PG_INT8, CORIO_PG_OID,
                                 CORIO_PG_FLOAT4, CORIO_PG_FLOAT8, CORIO_PG_NUMERIC, CORIO_PG_TEXT, CORIO_PG_JSONB,
                                 CORIO_PG_BYTEA, CORIO_PG_DATE, CORIO_PG_TIME, CORIO_PG_TIMESTAMP,
                                 CORIO_PG_TIMESTAMPTZ, CORIO_PG_UUID, CORIO_PG_CHAR, 600 /* point: no text form */,
                                 CORIO_PG_INTERVAL, CORIO_PG_BOOL_ARRAY, CORIO_PG_INT2_ARRAY, CORIO_PG_INT4_ARRAY,
                                 CORIO_PG_INT8_ARRAY, CORIO_PG_FLOAT8_ARRAY, CORIO_PG_TEXT_ARRAY,
                                 1001 /* bytea[] */, 1021 /* float4[] */, 1028 /* oid[] */, 1115 /* timestamp[] */,
                                 1182 /* date[] */, 1183 /* time[] */, 1187 /* interval[] */, 1231 /* numeric[] */,
                                 2951 /* uuid[] */, 3807 /* jsonb[] */, 1015 /* varchar[] */};

/* Open v as an array of type t and read every element every way. */
static void walk_array(uint32_t t, const char *v, size_t len) {
    corio_pg_array a;
    const char *why = NULL;
    int lb;
    int rc = pg__array_open(t, v, (int)len, &a, &lb, &why);
    if (rc < 0) {
        if (!why) abort(); /* every refusal says why */
        if (corio_pg_array_next(&a) != 0) abort(); /* a refused view is empty */
        return;
    }
    int k = 0;
    while (corio_pg_array_next(&a) == 1) {
        bool b;
        int32_t i32;
        int64_t i64;
        double d;
        const char *s;
        size_t n;
        corio_pg_interval iv;
        char buf[16];
        int isnull = corio_pg_array_is_null(&a);
        if (isnull != 0 && isnull != 1) abort();
        (void)corio_pg_array_bool(&a, &b);
        (void)corio_pg_array_int32(&a, &i32);
        (void)corio_pg_array_int64(&a, &i64);
        (void)corio_pg_array_double(&a, &d);
        if (corio_pg_array_text(&a, &s, &n) == 0 && (s < v || s + n > v + len)) abort();
        (void)corio_pg_array_interval(&a, &iv);
        (void)corio_pg_array_str(&a, buf, sizeof buf);
        k++;
    }
    if (k != a.n) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 100000) return 0;
    uint32_t t = types[data[0] % (sizeof types / sizeof types[0])];
    /* the value in a buffer of its own size, so ASan sees any overread */
    size_t len = size - 1;
    char *v = malloc(len ? len : 1);
    if (!v) return 0;
    memcpy(v, data + 1, len);
    if (pg__array_elem(t)) walk_array(t, v, len);
    int full = pg__format_value(t, v, (int)len, NULL, 0);
    if (full >= 0) {
        char *a = malloc((size_t)full + 1), small[7];
        /* (text may hold NUL bytes here, which a server never sends: compare bytes) */
        if (pg__format_value(t, v, (int)len, a, (size_t)full + 1) != full || a[full] != 0) abort();
        if (pg__format_value(t, v, (int)len, small, sizeof small) != full) abort();
        size_t keep = (size_t)full < sizeof small - 1 ? (size_t)full : sizeof small - 1;
        if (memcmp(small, a, keep) != 0 || small[keep] != 0) abort();
        free(a);
    }
    free(v);
    return 0;
}
