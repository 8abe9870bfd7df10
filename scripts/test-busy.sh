#!/bin/sh
# Runs the suite's timing-sensitive parts beside CPU hogs, as on a shared CI machine:
# the signal/SIGKILL, interrupt and concurrency tests of the CLI (prune, finetune, audit), the
# bad-input suite (child processes with time limits), the file swapped while a child reads it,
# the bombs under prlimit (CPU-time bounds), the isolation tests, and each fuzz target briefly. HOGS busy-loop
# processes (default 2, one per core of a 2-core machine) run the whole time.
#   scripts/test-busy.sh [FUZZTIME]        (make test-busy)
#   HOGS=4 scripts/test-busy.sh
#   scripts/test-busy.sh --make-test       `make test` itself beside the hogs
set -eu
hogs=""
cleanup() {
	for p in $hogs; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM HUP
i=0
while [ "$i" -lt "${HOGS:-2}" ]; do
	sh -c 'while :; do :; done' &
	hogs="$hogs $!"
	i=$((i + 1))
done
echo "test-busy: $(echo $hogs | wc -w) CPU hogs (pids$hogs) on $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${1:-}" = "--make-test" ]; then
	${MAKE:-make} test
else
	go test -count=1 -timeout 60m -run 'TestPruneKilled|TestConcurrentRuns|TestSIGQUITDump|TestStdoutFull|TestBadInputs|TestSwapWhileTheChildReads|TestFineTuneInterrupted|TestAuditInterrupted|TestBombsUnderPrlimit|TestLargeAndSelfLinkedModels|TestOutOfMemoryIsNotCorrupt' ./cmd/goodnet
	go test -count=1 -timeout 20m ./internal/isolate ./internal/atomicfile
	go test -count=1 -timeout 20m -run 'Isolat|Loop|Crash|Timeout|Corrupt|Fuzz' ./keras ./dataset ./onnx
	./scripts/fuzz.sh "${1:-100x}"
fi
echo "test-busy: passed beside the hogs; load $(cut -d' ' -f1-3 /proc/loadavg)"
