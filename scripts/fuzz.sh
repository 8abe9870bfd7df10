#!/bin/sh
# Runs every Go fuzz target of the module for the given budget each (default 2m): a duration
# (2m, 10s) or a number of executions (500x). `make test` uses a number: with a duration, Go
# 1.26's fuzzer can fail with "context deadline exceeded" when a worker is still busy at the
# deadline (go.dev/issue/75804, fixed in Go 1.27) — which a loaded machine makes likely;
# a count has no deadline to race. The test binary's own limit (10 minutes by default) is
# lifted to 60 minutes: on a loaded machine a slow target (a child process per input) may
# need more for its count.
set -eu
t="${1:-2m}"
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "fuzz: $pkg $f ($t)"
		go test -timeout 60m -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg"
	done
done
