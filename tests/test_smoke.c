#include "test.h"

static int order[16];
static int norder;

static int child(void *arg) {
    int id = (int)(intptr_t)arg;
    order[norder++] = id;
    corio_sleep(0.01 * id);
    order[norder++] = 10 + id;
    return id * 2;
}

static int main_task(void *arg) {
    (void)arg;
    corio_task *a = corio_spawn(child, (void *)1);
    corio_task *b = corio_spawn(child, (void *)2);
    int ra = corio_join(a), rb = corio_join(b);
    CHECK_EQ(ra, 2);
    CHECK_EQ(rb, 4);
    return 7;
}

static void test_spawn_join(void) {
    norder = 0;
    CHECK_EQ(test_run(main_task, NULL, 0), 7);
    CHECK_EQ(norder, 4);
    CHECK_EQ(order[0], 1);
    CHECK_EQ(order[1], 2);
    CHECK_EQ(order[2], 11);
    CHECK_EQ(order[3], 12);
}

static int main_run(void *arg) { return (int)(intptr_t)arg + 1; }

static void test_corio_run(void) { CHECK_EQ(corio_run(main_run, (void *)41), 42); }

int main(void) {
    RUN_TEST(test_spawn_join);
    RUN_TEST(test_corio_run);
    TEST_MAIN_END();
}
