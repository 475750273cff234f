#!/usr/bin/env bash
# The body of `make test`: formatting, vet, staticcheck, race tests (with the
# SQS and DynamoDB emulators and the Lambda RIE), then short fuzzing.
# The tools are installed by `make tools emulators` before this runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PATH"
FUZZTIME="${FUZZTIME:-10s}"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
staticcheck ./...

echo "== emulators"
./scripts/emulators.sh start
trap './scripts/emulators.sh stop' EXIT
set -a; source .emulators/env; set +a
export MAILPROBE_RIE="$PWD/.tools/bin/aws-lambda-rie"

echo "== go test -race"
# Packages run in parallel; the real-server suites (e2e, e2e/mta with
# Postfix, postgrey, Exim and OpenSMTPD, e2e/proxies) are packages of their
# own so they overlap with the unit tests instead of adding to them.
go test -race -timeout 12m ./...

echo "== fuzz ($FUZZTIME each)"
make --no-print-directory fuzz FUZZTIME="$FUZZTIME"
echo "== make test: all passed"
