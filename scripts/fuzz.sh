#!/bin/sh
# Runs every Go fuzz target of the module for the given budget each (default 2m): a duration
# (2m, 10s) or a number of executions (500x). `make test` uses a number: with a duration, Go
# 1.26's fuzzer can fail with "context deadline exceeded" when a worker is still busy at the
# deadline (go.dev/issue/75804, fixed in Go 1.27) — which a loaded machine makes likely;
# a count has no deadline to race. The test binary's own limit (10 minutes by default) is
# lifted to 60 minutes: on a loaded machine a slow target (a child process per input) may
# need more for its count.
#
# FuzzReadModel and FuzzReadSet run libhdf5 in the fuzzing process itself (the children's
# parsing, in-process, for speed), so an input on which libhdf5 1.10 crashes or loops stops
# them ("fuzzing process hung or terminated unexpectedly"). Such an input is libhdf5's, not
# goodnet's, when the isolated target (FuzzLoadModel, FuzzLoadSet: the same loaders through
# their child processes) passes on it: it is then moved into that target's corpus as a
# regression case, said, and the in-process target runs again (up to 10 times); otherwise
# the run fails.
set -eu
t="${1:-2m}"
isolated() {
	case "$1" in
	FuzzReadModel) echo FuzzLoadModel ;;
	FuzzReadSet) echo FuzzLoadSet ;;
	esac
}
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		echo "fuzz: $pkg $f ($t)"
		iso=$(isolated "$f")
		if [ -z "$iso" ]; then
			go test -timeout 60m -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg"
			continue
		fi
		tries=0
		while :; do
			log=$(mktemp)
			if go test -timeout 60m -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" >"$log" 2>&1; then
				cat "$log"
				rm -f "$log"
				break
			fi
			cat "$log"
			in=$(sed -n 's/.*Failing input written to testdata\/fuzz\/[A-Za-z0-9_]*\/\([0-9a-f]*\).*/\1/p' "$log" | head -1)
			died=$(grep -c 'fuzzing process hung or terminated unexpectedly' "$log" || true)
			rm -f "$log"
			tries=$((tries + 1))
			# a Go panic or a failed check is goodnet's: only a process that died or hung is libhdf5's
			if [ -z "$in" ] || [ "$died" = 0 ] || [ $tries -gt 10 ]; then
				exit 1
			fi
			mkdir -p "$dir/testdata/fuzz/$iso"
			mv "$dir/testdata/fuzz/$f/$in" "$dir/testdata/fuzz/$iso/$in"
			rmdir "$dir/testdata/fuzz/$f" 2>/dev/null || true
			if ! go test -timeout 10m -run "^$iso\$/^$in\$" "$pkg" >/dev/null 2>&1; then
				echo "fuzz: $f: input $in fails $iso too (see $dir/testdata/fuzz/$iso/$in)"
				exit 1
			fi
			echo "fuzz: $f: input $in crashes or hangs libhdf5 itself; $iso catches it in its child: kept in $dir/testdata/fuzz/$iso/$in (commit it), fuzzing again"
		done
	done
done
