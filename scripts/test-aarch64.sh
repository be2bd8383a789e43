#!/bin/sh
# Cross-build corio for AArch64 and run the test suite under user-mode QEMU.
#
#   scripts/test-aarch64.sh [BUILD_DIR] [extra cmake args...]
#
# BUILD_DIR defaults to build-arm64.  Installs the cross compiler and QEMU
# with apt-get if they are missing (Debian 12 / Ubuntu package names; needs
# root or sudo), configures with cmake/toolchain-aarch64.cmake, builds, and
# runs ctest, which starts every test through qemu-aarch64 (the toolchain
# file's CMAKE_CROSSCOMPILING_EMULATOR).  Extra arguments go to cmake, e.g.
#   scripts/test-aarch64.sh build-arm64-uc -DCORIO_SWITCH=ucontext
#   scripts/test-aarch64.sh build-arm64-bti -DCMAKE_C_FLAGS=-mbranch-protection=standard \
#       -DCMAKE_ASM_FLAGS=-mbranch-protection=standard
#
# qemu-user (7.2) accepts madvise(MADV_GUARD_INSTALL) but ignores it;
# src/core/stack.c notices (its first guard must make a read fail with EFAULT)
# and falls back to mprotect, so the overflow test passes here too.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
build=${1:-build-arm64}
[ $# -gt 0 ] && shift

need=""
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || need="$need gcc-aarch64-linux-gnu"
[ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || need="$need libc6-dev-arm64-cross"
command -v qemu-aarch64 >/dev/null 2>&1 || need="$need qemu-user"
if [ -n "$need" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "installing:$need"
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $need
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
    -DCORIO_BUILD_BENCH=OFF "$@"
cmake --build "$build" -j"$jobs"
cd "$build"
CORIO_TEST_BULK_MIB=64 ctest --output-on-failure
