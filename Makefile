# A thin front for CMake.  `make test` and `make demo` install what a fresh
# Debian 12 machine lacks (cmake, a compiler) through scripts/deps.sh.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= 2

.PHONY: all deps configure build test demo bench install clean

all: build

deps:
	@bash scripts/deps.sh

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

bench: deps
	@bash bench/run.sh

install: build
	@cmake --install $(BUILD)

clean:
	@rm -rf $(BUILD) build-*
