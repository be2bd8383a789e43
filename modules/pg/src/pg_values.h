/*
 * pg_values.h - binary forms of values (values.c), shared with pg.c and
 * the fuzz target.  Not installed.
 */
#ifndef CORIO_PG_VALUES_H
#define CORIO_PG_VALUES_H

#include "corio/pg.h"

/* Encode a binary-format parameter into out (at most 16 bytes).  Returns
 * its length, or -EINVAL with *why saying what is wrong. */
int pg__encode_param(const corio_pg_param *p, unsigned char out[16], const char **why);

/* PostgreSQL's name of a type this module knows, or NULL. */
const char *pg__type_name(uint32_t oid);

/* Format a binary value of type t as PostgreSQL's text would; snprintf's
 * contract (returns the full length).  -EPROTO for a malformed value,
 * CORIO_PG_ETYPE for a type without a text form here. */
int pg__format_value(uint32_t t, const char *v, int len, char *buf, size_t cap);

#endif
