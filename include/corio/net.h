/* corio/net.h - (being written) */
#ifndef CORIO_NET_H
#define CORIO_NET_H
#include "types.h"
#endif
