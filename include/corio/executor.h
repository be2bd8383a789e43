/* corio/executor.h - (being written) */
#ifndef CORIO_EXECUTOR_H
#define CORIO_EXECUTOR_H
#include "types.h"
#endif
