# The two ways in: `make demo` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# CPU build on these machines (pip finds it on disk). GPU users: put a CUDA torch into
# .venv first (see README); it is kept, because this step only runs without a torch.
TORCH  ?= torch==2.13.0

.PHONY: install demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# Until `setsplat run` exists, the demo runs the stages there are: the capture stage
# (ingest + QC of the bundled synthetic scan into demo-out/) and `info` on a scene.
demo: install
	$(BIN)/setsplat capture ingest sample_scans/stage/images --out demo-out/capture --overwrite
	$(BIN)/setsplat info tests/data/room_corner.ply

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests benchmarks

bench: install
	$(BIN)/python benchmarks/io_ply.py
	$(BIN)/python benchmarks/capture.py
	$(BIN)/python benchmarks/sfm.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache
