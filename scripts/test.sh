#!/usr/bin/env bash
# The whole test suite: unit, integration (real etcd and Postgres), end-to-end (whole clusters).
# Assumes scripts/setup.sh has run (npm test runs it first).
set -euo pipefail
cd "$(dirname "$0")/.."
export BALLAST_TEST=1
files() { find "dist/test/$1" -name '*.test.js' 2>/dev/null | sort; }
mapfile -t unit < <(files unit)
mapfile -t integ < <(files integration)
mapfile -t e2e < <(files e2e)
# Unit tests in parallel; anything that starts processes runs one file at a time (2 cores).
node --test --test-reporter=spec "${unit[@]}"
if [ ${#integ[@]} -gt 0 ]; then node --test --test-concurrency=1 --test-reporter=spec "${integ[@]}"; fi
if [ ${#e2e[@]} -gt 0 ]; then node --test --test-concurrency=1 --test-reporter=spec "${e2e[@]}"; fi
