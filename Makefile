# Entry points for people and CI. Every target installs what is missing first.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: setup configure build test bench demo clean

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

bench: build
	@$(BUILD_DIR)/bench/wsvis_bench

# Both methods with their baselines on the synthetic set, then the metric tables and
# runs/demo/report.html: configs/demo.json fits 15 minutes on 2 CPU cores; with a GPU,
# configs/demo_full.json runs the sizes of docs/results/. A finished run is not redone; an
# interrupted one resumes (delete runs/demo to start over).
demo: build
	@if $(BUILD_DIR)/apps/wsvis info | grep -q "built; [1-9]"; then \
	  $(BUILD_DIR)/apps/wsvis run configs/demo_full.json --run runs/demo_full; \
	else \
	  $(BUILD_DIR)/apps/wsvis run configs/demo.json --run runs/demo; \
	fi

clean:
	rm -rf $(BUILD_DIR)
