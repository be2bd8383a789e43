#include "internal.h"
int corio__gather_cancel(corio_future *f) { return corio__future_cancel_plain(f); }
