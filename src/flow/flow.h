/*
 * flow.h - the combinators' shared parts (timeouts, gather, wait, shield,
 * task groups).  docs/design.md, "Layers".
 */
#ifndef CORIO_SRC_FLOW_H
#define CORIO_SRC_FLOW_H

#include "../core/core.h"

/* Gather's cancel override (gather.c). */
int corio__gather_cancel(corio_future *f, const corio__msg *msg);

#endif
