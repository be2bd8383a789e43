/* corio/stream.h - (being written) */
#ifndef CORIO_STREAM_H
#define CORIO_STREAM_H
#include "types.h"
#endif
