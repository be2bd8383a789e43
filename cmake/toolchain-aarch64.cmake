# Cross-compile corio for AArch64 Linux and run the tests under user-mode QEMU.
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
# Debian/Ubuntu packages: gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
# (scripts/test-aarch64.sh installs them and does the whole run).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CORIO_CROSS_PREFIX "aarch64-linux-gnu-" CACHE STRING "Cross toolchain prefix")
set(CMAKE_C_COMPILER ${CORIO_CROSS_PREFIX}gcc)
set(CMAKE_ASM_COMPILER ${CORIO_CROSS_PREFIX}gcc)

set(CORIO_CROSS_SYSROOT "/usr/aarch64-linux-gnu" CACHE PATH "Target libraries for QEMU (-L)")
set(CMAKE_FIND_ROOT_PATH ${CORIO_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest (and try_run) run target programs through QEMU.
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-L;${CORIO_CROSS_SYSROOT}")
