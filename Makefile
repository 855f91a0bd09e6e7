# gravrd - top-level entry points (wrap CMake). See README.md.
#   make        build build/gravrd and libgravrd
#   make test   install build dependencies if missing, build, run all tests
#               (release build, then an AddressSanitizer+UBSan build)
#   make demo   build the CLI, simulate the default world, replicate the study into out/
#   make bench  build and run the benchmarks: the regression table, then the
#               whole replicate and the memory of the main regression
#               against issue 6's targets (tools/bench.sh)
#   make montecarlo  coverage check of the simulator + estimator

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
DEB_PACKAGES := cmake gcc make pkg-config zlib1g-dev libgsl-dev liblapack-dev libblas-dev \
                liblapacke-dev libcmocka-dev libjansson-dev
# Needed by the tests only (not by build or demo): tests/test_html.c opens
# the HTML report in headless Chromium.
DEB_TEST_PACKAGES := chromium

.PHONY: all deps deps-test build test test-release test-asan demo bench montecarlo clean

all: build

# Installs the missing ones of a list of Debian packages (idempotent; needs
# root, as on CI).
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to apt-get install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install_missing,$(DEB_PACKAGES))

# The test-only packages (Chromium for the HTML report test).
deps-test:
	$(call install_missing,$(DEB_TEST_PACKAGES))

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j $(JOBS)

test-release: build deps-test
	cd build && ctest --output-on-failure -j $(JOBS)

test-asan: deps deps-test
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DGRAVRD_SANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

test: test-release test-asan

# The demo needs only the command line tool, not the tests.
demo: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j $(JOBS) --target gravrd_cli
	@sh tools/demo.sh

bench: build
	@sh tools/bench.sh

# Coverage of the 95% intervals over 50 simulated 12-month worlds.
montecarlo: build
	./build/gravrd_montecarlo --seeds 50 --months 12

clean:
	rm -rf build build-asan out
