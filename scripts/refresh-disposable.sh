#!/usr/bin/env bash
# Refresh the embedded data lists of engine/misc from their upstream sources
# (see engine/misc/data/README.md), then check them with the package tests.
# Needs internet access; it is never run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/../engine/misc/data"
base=https://raw.githubusercontent.com
curl -fsSL "$base/disposable-email-domains/disposable-email-domains/main/disposable_email_blocklist.conf" -o disposable_email_blocklist.conf.new
curl -fsSL "$base/ihmpavel/free-email-domains-list/master/data/data.txt" -o free_email_providers.txt.new
mv disposable_email_blocklist.conf.new disposable_email_blocklist.conf
mv free_email_providers.txt.new free_email_providers.txt
echo "role_accounts.txt is left as shipped: upstream moved to a categorised JavaScript file (see README.md)."
cd ../../..
go test ./engine/misc/...
git diff --stat -- engine/misc/data
