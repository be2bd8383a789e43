// boost_switch.cpp - the Boost.Context peer of corio's raw switch
// (bench/corio_switch.c, switch_raw).
//
//  switch_raw   jump_fcontext ping-pong between main and one context: the
//               assembly floor Boost gives (boost/context/detail/fcontext.hpp)
//  switch_fiber the same with the public boost::context::fiber API
//               (resume(), which wraps jump_fcontext and moves the fiber)
// Both reported per switch (one direction), as corio's switch_raw.
//
// usage: boost_switch [N] [raw|fiber|both]     (N round trips; default 10M)
#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace ctx = boost::context;
namespace det = boost::context::detail;

static void print(const char *name, long n, double ns, double ns_per_op) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    std::printf("name=%s impl=boost n=%ld ns_per_op=%.2f wall_s=%.4f maxrss_kb=%ld minflt=%ld switches=%ld\n", name,
                n, ns_per_op, ns / 1e9, ru.ru_maxrss, ru.ru_minflt, 2 * n);
}

static long now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

static void co_entry(det::transfer_t t) {
    for (;;) t = det::jump_fcontext(t.fctx, nullptr);
}

static void bench_raw(long n) {
    const std::size_t size = 64 * 1024;
    char *stack = static_cast<char *>(std::malloc(size));
    det::fcontext_t co = det::make_fcontext(stack + size, size, co_entry);
    for (long i = 0; i < 100000; i++) co = det::jump_fcontext(co, nullptr).fctx;
    long t0 = now_ns();
    for (long i = 0; i < n; i++) co = det::jump_fcontext(co, nullptr).fctx;
    long t1 = now_ns();
    print("switch_raw", n, double(t1 - t0), double(t1 - t0) / (2.0 * n));
    std::free(stack);
}

static void bench_fiber(long n) {
    ctx::fiber f{[](ctx::fiber &&main) {
        for (;;) main = std::move(main).resume();
        return std::move(main);
    }};
    for (long i = 0; i < 100000; i++) f = std::move(f).resume();
    long t0 = now_ns();
    for (long i = 0; i < n; i++) f = std::move(f).resume();
    long t1 = now_ns();
    print("switch_fiber", n, double(t1 - t0), double(t1 - t0) / (2.0 * n));
}

int main(int argc, char **argv) {
    long n = 10000000;
    if (argc > 1) {
        double d = std::strtod(argv[1], nullptr);
        if (d >= 1) n = long(d);
    }
    const char *which = argc > 2 ? argv[2] : "both";
    if (!std::strcmp(which, "raw") || !std::strcmp(which, "both")) bench_raw(n);
    if (!std::strcmp(which, "fiber") || !std::strcmp(which, "both")) bench_fiber(n);
    return 0;
}
