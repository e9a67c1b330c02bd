# The two ways in: `make demo` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CPU build on these machines (pip finds it on disk). GPU users: put a CUDA torch into
# .venv first (see README); it is kept, because this step only runs without a torch.
TORCH  ?= torch==2.13.0

.PHONY: install demo test lint bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev,mesh,farm]"
	touch $@

# Independent readers the tests run on what we write (npm, pinned, into .tools/): the
# Khronos glTF validator checks every GLB; PlayCanvas's splat-transform reads our PLY,
# .splat, SPZ and SOG and writes the files we read (and its HTML viewer is the peer of
# benchmarks/view.py).
NPM_TOOLS := gltf-validator@2.0.0-dev.3.10 @playcanvas/splat-transform@3.7.0
GLTF_VALIDATOR := .tools/node_modules/gltf-validator/package.json
SPLAT_TRANSFORM := .tools/node_modules/@playcanvas/splat-transform/package.json
$(GLTF_VALIDATOR) $(SPLAT_TRANSFORM) &: Makefile
	npm install -s --prefix .tools --no-audit --no-fund $(NPM_TOOLS)
	touch $(GLTF_VALIDATOR) $(SPLAT_TRANSFORM)

# Debian packages the tests drive: Chromium (the viewer in a real browser) and the
# PostgreSQL server (the shared catalog). CI runs as root on a clean machine; elsewhere
# sudo is used when it is there.
DEBS := chromium postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_PACKAGES := .tools/.debian-packages
$(DEBIAN_PACKAGES): Makefile
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
	mkdir -p .tools && touch $@

install: $(VENV)/.installed $(GLTF_VALIDATOR) $(SPLAT_TRANSFORM) $(DEBIAN_PACKAGES)

# The main job on the bundled sample scan (its floor markers are 20 cm).
demo: install
	$(BIN)/setsplat run sample_scans/stage --out demo-out --marker-size 0.2 --resolution 2
	$(BIN)/setsplat info demo-out/train/scene.ply
	@echo "Look at it in your browser: $(BIN)/setsplat view demo-out"

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

# Every reader of files we are handed, 100,000 damaged inputs each (tests/fuzz/run.py);
# counts and findings go to fuzz-report.json. The test suite runs a small fixed budget.
FUZZ_EXAMPLES ?= 100000
FUZZ_JOBS ?= 2
fuzz: install
	nice -n 19 $(BIN)/python -m tests.fuzz.run --examples $(FUZZ_EXAMPLES) --jobs $(FUZZ_JOBS)

bench: install
	$(BIN)/python benchmarks/io_ply.py
	$(BIN)/python benchmarks/capture.py
	$(BIN)/python benchmarks/sfm.py
	$(BIN)/python benchmarks/export.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache fuzz-report.json
