# The two commands of the README, and the rest of the developer loop.
#   make run             build, then serve the whole app on http://127.0.0.1:7071/api
#                        with the embedded SQLite store (no Azure needed)
#   make test            build, then run every test (unit, integration against the
#                        local Cosmos rig, end to end)
#   make test-sanitize   the same tests under AddressSanitizer + UBSan (leaks fail)
#   make lint            clang-format check and the banned-function check
#   make package         build/package/functionapp.zip, the app for Azure (portable handler);
#                        fails unless the zip was built (needs root or passwordless sudo)
#   make bench           benchmarks: a table of figures measured in one run,
#                        with ratios to the original sample's algorithm (bench/baseline)
#   make fuzz            the libFuzzer targets, a minute in all
#   make soak            load and soak on the local Cosmos rig with faults injected, then
#                        the invariants (docs/soak.md); SOAK_SECONDS=180 by default
#   make soak-sanitize   the same soak with the AddressSanitizer + UBSan build
# Each target installs missing Debian packages first (scripts/deps.sh).

RIG := tests/support/cosmos-rig
INFRA := tests/infra
OPENAPI := tests/openapi
NOT_BUILT := $(CURDIR)/build/package/NOT_BUILT
BASELINE := bench/baseline
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 12
FUZZ_TARGETS := envelope routes cosmos_replies feed commands
SOAK_SECONDS ?= 180
SOAK_REPLICA_LAG_MS ?= 0
SOAK_HANDLERS ?= 1
JOBS ?= $(shell nproc)
ARGS ?=

.PHONY: all deps build asan-build rig infra-tools openapi-tools package package-for-tests run test \
	test-sanitize fuzz bench soak soak-sanitize lint format clean

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

# The Bicep parser and the Flex Consumption checks of tests/infra: their pinned
# packages, installed when the lockfile changed. No install scripts run: the
# grammar is used as WebAssembly, nothing native is built.
$(INFRA)/node_modules/.package-lock.json: $(INFRA)/package-lock.json
	cd $(INFRA) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

infra-tools: deps $(INFRA)/node_modules/.package-lock.json

# Redocly CLI (the OpenAPI linter) and Ajv (the response validator) of
# tests/openapi: pinned packages, installed when the lockfile changed, with no
# install scripts.
$(OPENAPI)/node_modules/.package-lock.json: $(OPENAPI)/package-lock.json
	cd $(OPENAPI) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

openapi-tools: deps $(OPENAPI)/node_modules/.package-lock.json

# The deployable zip (scripts/package.sh), built in a cached Debian 11 root.
# Strict, for deploying (scripts/deploy.sh): no fresh zip is a failure.
package: deps
	@scripts/package.sh

# The same for the tests, with the Debian 11 and 12 roots the package tests run
# the zip in. Where this machine cannot make the roots (not root and no
# passwordless sudo, no debootstrap, no mirror) it says so and make test goes
# on with the package tests skipped; any other failure stops make test.
package-for-tests: deps
	@scripts/package.sh --test-roots || { rc=$$?; \
		[ -f $(NOT_BUILT) ] || exit $$rc; \
		echo "*** the package was NOT built; make test will skip the package tests:"; \
		sed 's/^/***   /' $(NOT_BUILT); }

test: build rig infra-tools openapi-tools package-for-tests
	@echo "cd $(BUILD) && ctest --output-on-failure -j$(JOBS)"
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS); rc=$$?; \
		if [ -f $(NOT_BUILT) ]; then \
			echo "*** the package was NOT built, so the package tests were SKIPPED:"; \
			sed 's/^/***   /' $(NOT_BUILT); \
		elif [ "$$(id -u)" -ne 0 ]; then \
			echo "*** not root: the package tests that run the zip in the Debian roots" \
				"(chroot, mount) were SKIPPED"; \
		fi; \
		exit $$rc

asan-build: deps
	@cmake -S . -B $(ASAN_BUILD) -DES_SANITIZE=ON -DES_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

test-sanitize: asan-build rig infra-tools openapi-tools
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS)

# Each libFuzzer target for FUZZ_SECONDS (default 12: a minute in all), from
# the seeds in tests/fuzz/corpus/<target>; new inputs go to $(FUZZ_BUILD)/corpus.
# A crash stops the run and leaves crash-<hash> in $(FUZZ_BUILD). For a longer
# hunt: make fuzz FUZZ_SECONDS=600
fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DES_FUZZ=ON -DES_TESTS=OFF -DES_WERROR=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) >/dev/null
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t; \
		echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
		(cd $(FUZZ_BUILD) && ./tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=0 corpus/$$t ../tests/fuzz/corpus/$$t \
			> fuzz_$$t.log 2>&1) || { tail -n 60 $(FUZZ_BUILD)/fuzz_$$t.log; exit 1; }; \
		grep -E '^#[0-9]+.*(DONE|pulse)' $(FUZZ_BUILD)/fuzz_$$t.log | tail -n 1; \
	done

# The benchmark baseline (bench/baseline, a Node.js handler on the official
# Cosmos DB SDK): its pinned packages, installed when the lockfile changed.
$(BASELINE)/node_modules/.package-lock.json: $(BASELINE)/package-lock.json
	cd $(BASELINE) && npm ci --no-audit --no-fund --loglevel=error

# Benchmarks: a table of figures measured in one run (bench/run.sh), also
# written to $(BUILD)/bench/results.json. BENCH_SECONDS sets each wrk run (5).
bench: build rig $(BASELINE)/node_modules/.package-lock.json
	BUILD=$(BUILD) bench/run.sh

# Load and soak (tests/soak, docs/soak.md): SOAK_SECONDS of mixed commands from 16
# clients with faults injected between the handler and the rig, then the invariants
# and a summary of figures. SOAK_MAX_COMMANDS, SOAK_CLIENTS, SOAK_SEED also apply.
# SOAK_REPLICA_LAG_MS=200 SOAK_HANDLERS=2: replicas behind the primary, and two
# handler processes taking turns at every client's commands.
soak: build rig
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_REPLICA_LAG_MS=$(SOAK_REPLICA_LAG_MS) \
		SOAK_HANDLERS=$(SOAK_HANDLERS) $(BUILD)/tests/soak/es_soak

# The same under AddressSanitizer + UBSan (the memory figure is not checked there:
# ASan keeps freed memory in quarantine); any report fails the run.
soak-sanitize: asan-build rig
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_REPLICA_LAG_MS=$(SOAK_REPLICA_LAG_MS) \
		SOAK_HANDLERS=$(SOAK_HANDLERS) ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1 $(ASAN_BUILD)/tests/soak/es_soak

lint: deps
	scripts/checksrc.sh
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
