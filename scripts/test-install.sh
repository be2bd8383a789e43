#!/usr/bin/env bash
# Install corio from a build into a temporary prefix, move the installed
# tree somewhere else (both corio.pc and the CMake package must follow),
# and build and run a small program against it twice: with pkg-config
# (shared, and --static) and with CMake's find_package (corio::corio,
# corio::corio_static).
#
#   scripts/test-install.sh [BUILD_DIR]     (default: build, already built)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/first" >/dev/null
mv "$tmp/first" "$tmp/moved" # relocated: nothing may point at the first prefix
prefix=$tmp/moved
pc=$(dirname "$(find "$prefix" -name corio.pc | head -n 1)")
if grep -rq "$tmp/first" "$prefix"; then
    echo "test-install: the installed files name the prefix they were installed to:" >&2
    grep -rl "$tmp/first" "$prefix" >&2
    exit 1
fi

# The shared library exports the public API and nothing else.
so=$(find "$prefix" -name 'libcorio.so.*' -type f | head -n 1)
extra=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ && $3 !~ /^corio_[a-z]/ {print $3}')
if [ -n "$extra" ]; then
    echo "test-install: $so exports more than the API:" >&2
    echo "$extra" >&2
    exit 1
fi

echo "test-install: pkg-config ($pc/corio.pc)"
cflags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags corio)
libs=$(PKG_CONFIG_PATH=$pc pkg-config --libs corio)
static_libs=$(PKG_CONFIG_PATH=$pc pkg-config --static --libs corio)
# shellcheck disable=SC2086
cc -o "$tmp/pc_shared" "$root/tests/install/consumer.c" $cflags $libs -Wl,-rpath,"$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir corio)"
# The static library by its path, then what it needs (pkg-config --static).
libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir corio)
deps=$(echo " $static_libs " | sed 's/ -lcorio / /')
# shellcheck disable=SC2086
cc -o "$tmp/pc_static" "$root/tests/install/consumer.c" $cflags "$libdir/libcorio.a" $deps
"$tmp/pc_shared"
"$tmp/pc_static"

echo "test-install: find_package(corio)"
cmake -S "$root/tests/install" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/consumer_shared"
"$tmp/consumer/consumer_static"
echo "test-install: ok"
