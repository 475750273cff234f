# mailprobe: two commands on a fresh machine.
#   make run   builds and starts the local server on embedded defaults
#   make test  installs what the tests need, then vet, staticcheck, race tests, fuzzing, end-to-end
SHELL := /bin/bash
GO ?= go
TOOLS := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(PATH)
export GOBIN := $(TOOLS)

STATICCHECK_VERSION := v0.8.2
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da
LISTEN ?= 127.0.0.1:8080
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"
# The template deploys arm64; lambda-local builds the same targets for the host with LAMBDA_ARCH=$(go env GOARCH).
LAMBDA_ARCH ?= arm64
FUZZTIME ?= 10s

.PHONY: run doctor test apt-deps build build-local bootstraps tools emulators lint vet staticcheck unit fuzz e2e bench cost clean events deploy refresh-disposable sam-env-vars run-lambda

## run: build and start `mailprobe serve` (embedded queue and store under ./data)
run: build-local
	@echo "mailprobe listening on http://$(LISTEN)"
	@echo "try:  curl -s -X POST http://$(LISTEN)/v0/check_email -H 'content-type: application/json' -d '{\"to_email\":\"someone@example.com\"}'"
	./bin/mailprobe serve --listen $(LISTEN) --data-dir ./data $(ARGS)

## doctor: check DNS, names and every proxy of the configuration against a real MX (ARGS='--proxy socks5://... --target ...')
doctor: build-local
	./bin/mailprobe doctor $(ARGS)

## run-lambda: both functions under the Lambda RIE with the SQS and DynamoDB emulators, an HTTP front and
## an SQS event source, as infra/template.yaml wires them (needs RCH__HEADER_SECRET; ARGS='--proxy ... --dns ...')
run-lambda: tools emulators
	$(GO) build -o bin/lambda-local ./cmd/lambda-local
	./bin/lambda-local --listen $(LISTEN) $(ARGS)

## test: everything CI runs
test: apt-deps tools emulators
	./scripts/test.sh

build: build-local bootstraps

build-local:
	$(GO) build -o bin/mailprobe ./cmd/mailprobe

## bootstraps: the two Lambda binaries for arm64, as SAM builds them
bootstraps:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o bin/arm64/api/bootstrap ./functions/api
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o bin/arm64/sqsworker/bootstrap ./functions/sqsworker

# SAM's makefile build method calls these with ARTIFACTS_DIR set.
build-ApiFunction:
	GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/api

build-SqsWorkerFunction:
	GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sqsworker

## apt-deps: the one apt step: real MTAs, SOCKS5 servers, Prometheus, Chromium (see the script)
apt-deps:
	./scripts/apt-deps.sh

## tools: staticcheck and the Lambda Runtime Interface Emulator (Go module proxy only)
tools:
	@mkdir -p $(TOOLS)
	@test -x $(TOOLS)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@test -x $(TOOLS)/aws-lambda-rie || $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## emulators: SQS (fauxqs) and DynamoDB (dynalite) from npm, with node 22 from npm
emulators:
	./scripts/emulators.sh install

vet:
	$(GO) vet ./...

staticcheck: tools
	staticcheck ./...

lint: vet staticcheck
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: the files above need formatting" && exit 1)

unit:
	$(GO) test -race ./...

# -fuzzminimizetime keeps the fuzzer fuzzing instead of shrinking inputs
# for most of a short run.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./engine/address
	$(GO) test -run '^$$' -fuzz '^FuzzReadReply$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./engine/smtpprobe
	$(GO) test -run '^$$' -fuzz '^FuzzParseProxyURL$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./engine/dialer
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/queue
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeOutcome$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/store/dynamo

## bench: the README's performance table, each figure with its own settings; benchstat summarises
bench:
	@test -x $(TOOLS)/benchstat || $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)
	{ $(GO) test -run '^$$' -bench 'ParseAddress|Suggest' -benchmem -count 6 ./engine/address && \
	  $(GO) test -run '^$$' -bench 'Classify' -benchmem -count 6 ./engine/smtpprobe && \
	  $(GO) test -run '^$$' -bench 'EngineCPU' -benchtime 3000x -count 6 ./engine && \
	  $(GO) test -run '^$$' -bench 'Bulk|VerifyLatency' -benchtime 1x -count 6 ./engine && \
	  $(GO) test -run '^$$' -bench 'Concurrent1000' -benchtime 1x -count 6 ./engine && \
	  $(GO) test -run '^$$' -bench 'Serve' -count 6 ./internal/api && \
	  $(GO) test -run '^$$' -bench 'ResultsCSVStream' -benchtime 5x -count 6 ./internal/api && \
	  $(GO) test -run '^$$' -bench 'EmbeddedJob100k' -benchtime 1x -count 2 ./internal/app && \
	  $(GO) test -run '^$$' -bench 'ColdStart' -benchtime 10x -count 6 ./e2e; } | tee bench.out
	benchstat bench.out

## cost: a 10 000-address bulk job through the Lambda bootstraps on the emulators, every AWS call metered;
## prints per-address units and the cost per million (e2e/cost, README "Cost per million verifications")
COST_ADDRESSES ?= 10000
COST_SCALE ?= 20
cost: tools emulators
	@rm -f cost.out
	MAILPROBE_COST=1 MAILPROBE_COST_ADDRESSES=$(COST_ADDRESSES) MAILPROBE_COST_SCALE=$(COST_SCALE) \
	MAILPROBE_COST_REPORT=$(CURDIR)/cost.out $(GO) test -count=1 -run '^TestCost$$' -timeout 60m -v ./e2e/cost > cost.log 2>&1 || \
		{ tail -50 cost.log; exit 1; }
	@cat cost.out

events:
	@ls events/*.json

## deploy: sam build, then sam deploy --guided, from this folder (the README walks through the questions);
## later deploys: sam build && sam deploy (the saved answers in samconfig.toml)
deploy:
	sam build && sam deploy --guided

## sam-env-vars: .aws-sam/env-vars.json for `sam local invoke --env-vars`, computed from the
## template and samconfig.toml (ARGS: -emulators, -config-env, -command, -parameter-overrides, -ref ID=value)
SAM_ENV_VARS ?= .aws-sam/env-vars.json
sam-env-vars:
	$(GO) run ./cmd/sam-env-vars -o $(SAM_ENV_VARS) $(ARGS)

refresh-disposable:
	./scripts/refresh-disposable.sh

clean:
	rm -rf bin .aws-sam bench.out cost.out cost.log
