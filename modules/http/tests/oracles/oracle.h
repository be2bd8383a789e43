/*
 * oracle.h - one request parsed by a reference parser (Debian's llhttp
 * 8.1 sources or libhttp-parser 2.9), reduced to what the differential
 * test compares.  Each oracle lives in its own file: the two headers
 * define the same enum names (HTTP_REQUEST, HPE_OK).
 */
#ifndef HTTP_ORACLE_H
#define HTTP_ORACLE_H
#include <stddef.h>

#define ORACLE_MAX_HEADERS 128

struct oracle_msg {
    int ok;           /* 1: one whole message parsed without error */
    size_t consumed;  /* bytes of input it took */
    char method[32];
    char url[8192];
    size_t url_len;
    int major, minor;
    int nheaders;
    int nheaders_head; /* fields before the body (the rest are trailers) */
    char names[ORACLE_MAX_HEADERS][256];
    char values[ORACLE_MAX_HEADERS][1024];
    char *body; /* caller's buffer of body_cap bytes */
    size_t body_cap, body_len;
    int keep_alive;
    int field_state; /* private: 0 none, 1 in a name, 2 in a value */
    int light;       /* 1: callbacks record nothing (for the parser benchmark, where copying
                        the fields would be charged to the oracle) */
};

/* Parse the first request in buf[0..len).  Returns msg->ok. */
int oracle_llhttp(const char *buf, size_t len, struct oracle_msg *msg);
int oracle_http_parser(const char *buf, size_t len, struct oracle_msg *msg);
#endif
