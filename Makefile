# caja: the two commands of the README, and a few helpers.
#   make demo   set up (packages, build) and run the demo store
#   make test   set up and run every test (unit, property, integration, fuzz replay)

BUILD	?= build
JOBS	?= 2
CMAKE_FLAGS ?= -DCAJA_WERROR=ON

.PHONY: all deps build test demo fuzz bench clean

all: build

deps:
	@sh tools/deps.sh

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --no-tests=error --output-on-failure -j1

demo: build
	bash tools/demo.sh $(BUILD)

# libFuzzer targets, built with clang in build-fuzz; FUZZ_SECONDS each.
FUZZ_SECONDS ?= 20
fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCAJA_FUZZ=ON \
	    -DCAJA_WERROR=ON >/dev/null
	cmake --build build-fuzz -j$(JOBS) --target fuzz_all
	bash tools/fuzz.sh build-fuzz $(FUZZ_SECONDS)

bench: build
	bash tools/bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-fuzz
