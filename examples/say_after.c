/*
 * say_after.c - awaiting one coroutine after the other: "hello" after
 * 1 s, then "world" after another 2 s, about 3 s in all.
 *
 * A task function is a plain C function, so `await say_after(...)` is
 * just a call: it runs on the caller's stack and suspends the caller.
 *
 *     async def say_after(delay, what):
 *         await asyncio.sleep(delay)
 *         print(what)
 *
 *     async def main():
 *         print(f"started at {loop.time() - start:.1f} s")
 *         await say_after(1, 'hello')
 *         await say_after(2, 'world')
 *         print(f"finished at {loop.time() - start:.1f} s")
 */
#include <corio.h>
#include <stdio.h>

struct greeting {
    double delay;      /* seconds to wait */
    const char *what;  /* what to print then */
};

static int say_after(void *arg) {
    const struct greeting *g = arg;
    int rc = corio_sleep(g->delay);
    if (rc < 0) return rc;
    puts(g->what);
    return 0;
}

static int amain(void *arg) {
    (void)arg;
    double start = corio_time();
    printf("started at %.1f s\n", corio_time() - start);

    int rc = say_after(&(struct greeting){1.0, "hello"});
    if (rc < 0) return rc;
    rc = say_after(&(struct greeting){2.0, "world"});
    if (rc < 0) return rc;

    printf("finished at %.1f s\n", corio_time() - start);
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "say_after: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
