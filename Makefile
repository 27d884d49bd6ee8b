# rebound: the two commands a newcomer needs, plus helpers.
#
#   make demo    install what is missing, build build/rebound (Release) and
#                classify the sample feedback messages in data/samples/
#   make check   install what is missing, then build from scratch and run
#                every test: unit, golden, CLI, ASan+UBSan, a libFuzzer run
#
# The real work is in scripts/, so it runs the same without make.

.PHONY: all demo check deps build test asan fuzz checksrc format format-check clean

all: build

demo:
	@scripts/demo.sh

check:
	@scripts/check.sh

# Helpers.
deps:
	@scripts/deps.sh check

build:
	@scripts/build.sh build -DCMAKE_BUILD_TYPE=Release

test: build
	cd build && ctest --output-on-failure -j2

asan:
	@scripts/build.sh build-asan -DREBOUND_SANITIZE=ON
	cd build-asan && ctest --output-on-failure -j2

fuzz:
	@sh tests/fuzz/run-fuzz.sh

checksrc:
	@scripts/checksrc.sh

FORMAT_DIRS = core classify ingest store publish http cli tests bench
FORMAT_FILES = $(shell find $(FORMAT_DIRS) -name '*.[ch]' 2>/dev/null)

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@scripts/format-check.sh

clean:
	rm -rf build build-check build-asan build-fuzz
