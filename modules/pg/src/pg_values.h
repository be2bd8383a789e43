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

/* The element type of an array type this module reads, or 0. */
uint32_t pg__array_elem(uint32_t array_oid);

/* An array parameter (made by corio_pg_*_array): the size of its binary
 * form, or -EINVAL with *why; then its binary form into out (that many
 * bytes), returning the length. */
int64_t pg__array_param_size(const corio_pg_param *p, const char **why);
int pg__array_param_encode(const corio_pg_param *p, unsigned char *out);

/* Open a binary array value of column type t for corio_pg_array_next: 0;
 * CORIO_PG_ETYPE when t is not an array type; -EDOM for more than one
 * dimension; -EPROTO when malformed (every element's length is checked
 * here).  *lbound gets the lower bound.  The view has no result: its
 * readers report errors by code only. */
int pg__array_open(uint32_t t, const char *v, int len, corio_pg_array *a, int *lbound, const char **why);

#endif
