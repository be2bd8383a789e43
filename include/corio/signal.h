/* corio/signal.h - (being written) */
#ifndef CORIO_SIGNAL_H
#define CORIO_SIGNAL_H
#include "types.h"
#endif
