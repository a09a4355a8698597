# The two commands of the README, and the rest of the developer loop.
#   make run             build, then serve the whole app on http://127.0.0.1:7071/api
#                        with the embedded SQLite store (no Azure needed)
#   make test            build, then run every test (unit, integration against the
#                        local Cosmos rig, end to end)
#   make test-sanitize   the same tests under AddressSanitizer + UBSan (leaks fail)
#   make lint            clang-format check and the banned-function check
#   make package         build/package/functionapp.zip, the app for Azure (portable handler)
# Each target installs missing Debian packages first (scripts/deps.sh).

RIG := tests/support/cosmos-rig
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
ARGS ?=

.PHONY: all deps build rig package run test test-sanitize lint format clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DES_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/app/handler serve $(ARGS)

# The local Cosmos DB rig for the integration tests: install its pinned
# packages when the lockfile changed, then check it with its curl self-test.
$(RIG)/node_modules/.package-lock.json: $(RIG)/package-lock.json
	cd $(RIG) && npm ci --no-audit --no-fund --loglevel=error

rig: deps $(RIG)/node_modules/.package-lock.json
	@bash $(RIG)/selftest.sh > /tmp/cosmos-rig-selftest.log 2>&1 || \
		{ cat /tmp/cosmos-rig-selftest.log; exit 1; }
	@tail -n 1 /tmp/cosmos-rig-selftest.log

# The deployable zip (scripts/package.sh): built in a cached Debian 11 root.
# When no root can be made here, the package tests say why and skip.
package: deps
	@scripts/package.sh || [ $$? -eq 3 ]

test: build rig package
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-sanitize: deps rig
	@cmake -S . -B $(ASAN_BUILD) -DES_SANITIZE=ON -DES_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS)

lint: deps
	scripts/checksrc.sh
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
