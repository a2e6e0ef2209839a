# imagepipe: a serverless image pipeline, developed and tested on one machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EMULATOR_VENV := .venv-emulator
TOOLS_VENV := .venv-tools
TARGET ?= embedded
PYTEST_ARGS ?=

.PHONY: help up down status credentials lint tools test test-unit screenshots bench user reconcile reprocess dlq redrive logs stats deploy deploy-aws destroy-aws venv emulator-venv vendor clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt
	@echo "creating $(VENV) (project tools: boto3, Pillow, Flask, pytest, ...)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(EMULATOR_VENV)/.installed: requirements-emulator.txt
	@echo "creating $(EMULATOR_VENV) (the MiniStack emulator, in its own virtualenv)"
	@test -x $(EMULATOR_VENV)/bin/python || $(PYTHON) -m venv $(EMULATOR_VENV)
	@$(EMULATOR_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-emulator.txt
	@touch $@

$(TOOLS_VENV)/.installed: requirements-tools.txt
	@echo "creating $(TOOLS_VENV) (awslocal: the AWS CLI against the local stack)"
	@test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	@$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	@touch $@

venv: $(VENV)/.installed ## Create .venv with the project's pinned tools

# The page's pinned third-party code (bootstrap/vendor.py: fetched, integrity-checked, git-ignored).
VENDORED := $(addprefix frontend/vendor/,thumbhash.js photoswipe-lightbox.esm.min.js photoswipe.esm.min.js photoswipe.css)

$(VENDORED): bootstrap/vendor.py | $(VENV)/.installed
	@$(PY) -m bootstrap.vendor
	@touch $@

vendor: $(VENDORED) ## Fetch the page's pinned third-party code into frontend/vendor/ (ThumbHash, PhotoSwipe), integrity-checked

tools: $(TOOLS_VENV)/.installed ## Create .venv-tools with awslocal, to look inside the running stack (docs/targets.md)

emulator-venv: $(EMULATOR_VENV)/.installed ## Create .venv-emulator with the pinned MiniStack

up: venv emulator-venv $(VENDORED) ## Start the emulator and the devserver, deploy the stack, print the URLs
	@$(PY) -m bootstrap.local up

down: venv ## Stop the devserver and the emulator (state is kept in .stack/)
	@$(PY) -m bootstrap.local down

status: venv ## Say what is running
	@$(PY) -m bootstrap.local status

credentials: venv ## Print the local stack's own keys as shell export lines, for awslocal (eval them: docs/targets.md)
	@$(PY) -m bootstrap credentials --target $(TARGET)

LINTED := handlers bootstrap devserver tests

lint: venv ## Check style: ruff check (pycodestyle, pyflakes, imports, bugbear, pyupgrade, complexity <= 12) and ruff format
	@$(PY) -m ruff check $(LINTED)
	@$(PY) -m ruff format --check $(LINTED)

test: venv emulator-venv tools $(VENDORED) lint ## Run the style gate, then every test (unit, integration against the emulator, browser)
	@$(PY) -m pytest $(PYTEST_ARGS)

test-unit: venv $(VENDORED) ## Run the fast unit tests only
	@$(PY) -m pytest tests/unit $(PYTEST_ARGS)

screenshots: venv emulator-venv $(VENDORED) ## Capture the page's views at desktop and phone sizes into docs/screenshots/ (docs/page.md shows them), on a stack of their own
	@IMAGEPIPE_SCREENSHOTS=1 $(PY) -m pytest tests/browser/test_screenshots.py $(PYTEST_ARGS)

$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt || \
	  echo "ssimulacra2 could not be installed: the bench runs without the quality table"
	@touch $@

bench: venv emulator-venv $(VENV)/.bench-installed ## Benchmark the rendition set (vs two JPEGs, naive Pillow, pyvips), every source format as whole processes against pyvips (HEIC against its decode floor), format quality per byte, near-duplicate precision and recall and what the look-alike index adds to each photo, the worst inputs within limits, what the processor's metrics cost, 200 uploads end to end, 2000 photos re-rendered on the batch state machine against this machine (BENCH_BATCH_PHOTOS), what a checkpoint of the emulator's state costs
	@$(PY) -m tests.bench.imaging
	@$(PY) -m tests.bench.formats_speed
	@$(PY) -m tests.bench.rendition_quality
	@$(PY) -m tests.bench.duplicates
	@$(PY) -m tests.bench.similar_index
	@$(PY) -m tests.bench.hostile
	@$(PY) -m tests.bench.metrics
	@$(PY) -m tests.bench.end_to_end
	@$(PY) -m tests.bench.batch
	@$(EMULATOR_VENV)/bin/python -m tests.bench.checkpoints

user: venv ## Create a confirmed user of the running stack and print its password (EMAIL=..., ADMIN=1 for the admins group)
	@$(PY) -m bootstrap user --target $(TARGET) --email "$(EMAIL)" $(if $(ADMIN),--admin)

reconcile: venv ## Rebuild missing or stale image records from the buckets on the batch state machine (S3 is the truth; safe to run twice; LOCAL=1 runs it here)
	@$(PY) -m bootstrap reconcile --target $(TARGET) $(if $(LOCAL),--local) $(if $(INVENTORY),--inventory-manifest $(INVENTORY))

reprocess: venv ## Re-render images made with an older rendition spec on the batch state machine (ALL=1 every one, ID=<id> one; interrupted, run again to follow or redrive the run; LOCAL=1 runs it here)
	@$(PY) -m bootstrap reprocess --target $(TARGET) $(if $(ID),--id $(ID)) $(if $(ALL),--all) $(if $(LOCAL),--local) $(if $(INVENTORY),--inventory-manifest $(INVENTORY))

dlq: venv ## List what the processor gave up on (its dead-letter queue)
	@$(PY) -m bootstrap.deadletters list

redrive: venv ## Send every dead-lettered event back to the processor
	@$(PY) -m bootstrap.deadletters redrive

# On AWS (TARGET=aws) with deploy-aws's outputs and variables (REGION= PROFILE= PREFIX=).
logs: venv ## Print one image's log lines from the API, the processor and the events function, in time order (ID=<image id>; TARGET=aws on AWS)
	@$(if $(filter aws,$(TARGET)),env $(AWS_VARS)) $(PY) -m bootstrap logs --target $(TARGET) --id "$(ID)"

stats: venv ## Print the stack's health: alarm states, the last hour's photos processed and refused (by code), upload-to-ready p50/p95, the oldest unfinished upload (TARGET=aws on AWS)
	@$(if $(filter aws,$(TARGET)),env $(AWS_VARS)) $(PY) -m bootstrap stats --target $(TARGET)

deploy: venv emulator-venv ## Deploy the stack to TARGET (embedded|localstack|aws) without starting anything
	@$(PY) -m bootstrap deploy --target $(TARGET)

# deploy-aws / destroy-aws: REGION, PROFILE, PREFIX and ARCH (x86_64|arm64) may be set;
# DRY_RUN=1 prints the plan without calling AWS.
AWS_VARS = $(if $(REGION),AWS_REGION=$(REGION)) $(if $(PROFILE),AWS_PROFILE=$(PROFILE)) \
	$(if $(PREFIX),STACK_PREFIX=$(PREFIX)) IMAGEPIPE_STATE_DIR=.stack/aws AWS_ENDPOINT_URL=
AWS_FLAGS = --target aws $(if $(ARCH),--arch $(ARCH)) $(if $(DRY_RUN),--dry-run)

deploy-aws: venv $(VENDORED) ## Deploy to real AWS: sign-in, API, functions, buckets, and the page over HTTPS (CloudFront) (REGION= PROFILE= PREFIX= ARCH= DRY_RUN=1)
	@env $(AWS_VARS) $(PY) -m bootstrap deploy $(AWS_FLAGS)

destroy-aws: venv ## Remove everything deploy-aws made, emptying its buckets first (same variables)
	@env $(AWS_VARS) $(PY) -m bootstrap destroy $(AWS_FLAGS)

clean: down ## Stop everything and forget the local state (.stack/)
	rm -rf .stack
