/*
 * hello.c - the first example of the asyncio documentation:
 * print "hello", wait one second, print "world".
 *
 *     async def main():
 *         print('hello')
 *         await asyncio.sleep(1)
 *         print('world')
 *
 *     asyncio.run(main())
 */
#include <corio.h>
#include <stdio.h>

static int amain(void *arg) {
    (void)arg;
    puts("hello");
    int rc = corio_sleep(1.0);
    if (rc < 0) return rc;
    puts("world");
    return 0;
}

int main(void) {
    int rc = corio_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "hello: %s\n", corio_strerror(rc));
        return 1;
    }
    return 0;
}
