/*
 * smtp_internal.h - what the server, the client and the parser share
 * inside the module (never installed).
 */
#ifndef CORIO_SMTP_INTERNAL_H
#define CORIO_SMTP_INTERNAL_H

#include <corio/smtp.h>

#include <stddef.h>

/* A growable byte buffer. */
typedef struct smtp_buf {
    char *p;    /* malloc'd, NULL when empty */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
} smtp_buf;

/* Make room for `more` bytes after len; 0 or -ENOMEM. */
int smtp_buf_reserve(smtp_buf *b, size_t more);
/* Append n bytes; 0 or -ENOMEM. */
int smtp_buf_append(smtp_buf *b, const void *p, size_t n);
void smtp_buf_free(smtp_buf *b);

/* The host name we announce when none is configured: gethostname(), or
 * "localhost" when that fails. */
void smtp_default_hostname(char *buf, size_t cap);

#endif
