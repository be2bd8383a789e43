/*
 * fuzz_pg_values - the decoders of PostgreSQL's binary values (the bytes
 * come from the network): any bytes, as any type, must format without
 * reading out of bounds, and a truncated buffer must get a prefix of the
 * full text (snprintf's contract).  Input: 1 byte choosing the type, then
 * the value.
 */
#include "pg_values.h"

#include <stdlib.h>
#include <string.h>

static const uint32_t types[] = {CORIO_PG_BOOL, CORIO_PG_INT2, CORIO_PG_INT4, CORIO_PG_INT8, CORIO_PG_OID,
                                 CORIO_PG_FLOAT4, CORIO_PG_FLOAT8, CORIO_PG_NUMERIC, CORIO_PG_TEXT, CORIO_PG_JSONB,
                                 CORIO_PG_BYTEA, CORIO_PG_DATE, CORIO_PG_TIME, CORIO_PG_TIMESTAMP,
                                 CORIO_PG_TIMESTAMPTZ, CORIO_PG_UUID, CORIO_PG_CHAR, 600 /* point: no text form */};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 100000) return 0;
    uint32_t t = types[data[0] % (sizeof types / sizeof types[0])];
    /* the value in a buffer of its own size, so ASan sees any overread */
    size_t len = size - 1;
    char *v = malloc(len ? len : 1);
    if (!v) return 0;
    memcpy(v, data + 1, len);
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
