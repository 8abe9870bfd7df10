package gpucheck

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGoodnet stands in for the cuda build in a fake bundle: $FAKE says how the check goes.
const fakeGoodnet = `#!/usr/bin/env bash
echo "fake goodnet $*"
case $FAKE in
nogpu) echo "goodnet: gpu-check: no usable GPU (cuInit: CUDA_ERROR_NO_DEVICE (100))" >&2; exit 1 ;;
pass) echo "PASS  kernel conv2d   fine"; echo "gpu-check: PASSED — all 25 checks passed (3 s)"; exit 0 ;;
fail) echo "FAIL  kernel conv2d   value 3 is wrong"; echo "gpu-check: FAILED — 1 of 25 checks failed: kernel conv2d (3 s)"; exit 1 ;;
zero) exit 0 ;;
crash) echo "SIGSEGV: segmentation violation" >&2; exit 2 ;;
stale) echo "goodnet gpu-check: no usable GPU: stale fatbin: cuda/kernels.fatbin was compiled from another kernels.cu" >&2; exit 1 ;;
broken) echo "goodnet gpu-check: cuMemAlloc of 4 bytes: CUDA_ERROR_ILLEGAL_ADDRESS" >&2; exit 1 ;;
esac
`

// fakeSanitizer stands in for compute-sanitizer: runs the program, reports $FAKE_SAN_ERRORS.
const fakeSanitizer = `#!/usr/bin/env bash
[[ $1 == --version ]] && { echo "Fake Sanitizer"; echo "Version 2099.1"; exit 0; }
while [[ $1 == --* ]]; do shift 2; done
echo "========= COMPUTE-SANITIZER"
[[ -n ${FAKE_SAN_RACE:-} ]] && echo "========= Race reported between Write access at 0x1 in k_conv2d"
[[ -n ${FAKE_SAN_SLOW:-} ]] && sleep 30
"$@"
rc=$?
n=${FAKE_SAN_ERRORS:-0}
echo "========= ERROR SUMMARY: $n errors"
[[ $n != 0 ]] && exit 99
exit $rc
`

// fakeBundle lays out a bundle with the real gpu-check.sh and fake programs.
func fakeBundle(t *testing.T, sanitizer bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gpu-check-bundle")
	script, err := os.ReadFile("../scripts/gpu-check.sh")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"gpu-check.sh":           string(script),
		"MANIFEST":               "goodnet gpu-check bundle (fake, for the tests)\n",
		"bin/goodnet":            fakeGoodnet,
		"fixtures/expected.json": "{}\n",
		"lib/README":             "no libraries in the fake bundle\n",
		"sanitizer/VERSION":      "fake\n",
	}
	if sanitizer {
		files["sanitizer/compute-sanitizer"] = fakeSanitizer
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// gpuLessPath is a PATH with the tools the script uses and no nvidia-smi or
// compute-sanitizer.
func gpuLessPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"bash", "env", "date", "hostname", "uname", "ldd", "grep", "sed", "awk", "tee", "cat",
		"tail", "head", "cut", "tr", "sort", "mkdir", "rm", "dirname", "basename", "nproc", "timeout", "printf", "readlink", "sleep"} {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

type scriptRun struct {
	code     int
	out, log string
	lastLine string
}

func runScript(t *testing.T, bundle string, env []string, args ...string) scriptRun {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "gpu-check.log")
	cmd := exec.Command(filepath.Join(bundle, "gpu-check.sh"), append([]string{"--out", logPath}, args...)...)
	cmd.Env = append([]string{"PATH=" + gpuLessPath(t), "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	r := scriptRun{out: string(out)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(logPath); err == nil {
		r.log = string(b)
		lines := strings.Split(strings.TrimSpace(r.log), "\n")
		r.lastLine = lines[len(lines)-1]
	}
	return r
}

// TestScriptWithoutGPU: the bundle's script in a GPU-less environment (no nvidia-smi, the
// check failing for want of a GPU) fails cleanly: exit 1, the reason in the verdicts, the
// last line FAILED, "PASSED" nowhere.
func TestScriptWithoutGPU(t *testing.T) {
	b := fakeBundle(t, true)
	r := runScript(t, b, []string{"FAKE=nogpu"})
	if r.code != 1 || !strings.HasPrefix(r.lastLine, "gpu-check.sh: FAILED — gpu-check (no usable GPU (cuInit: CUDA_ERROR_NO_DEVICE (100)))") {
		t.Fatalf("exit %d, last line %q\n%s", r.code, r.lastLine, r.out)
	}
	if strings.Contains(r.log, "PASSED") || strings.Contains(r.out, "PASSED") {
		t.Errorf("a GPU-less run says PASSED:\n%s", r.log)
	}
	for _, s := range []string{"nvidia-smi not found", "limit 560 s", "compute-sanitizer:             NOT RUN — no usable GPU", "fake goodnet gpu-check --fixtures " + filepath.Join(b, "fixtures")} {
		if !strings.Contains(r.log, s) {
			t.Errorf("log lacks %q:\n%s", s, r.log)
		}
	}
}

func TestScriptVerdicts(t *testing.T) {
	b := fakeBundle(t, true)
	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
		last string
		has  []string
	}{
		{"all pass", []string{"FAKE=pass"}, nil, 0, "gpu-check.sh: PASSED",
			[]string{"gpu-check:                     PASSED — all 25 checks passed (3 s)", "sanitizer memcheck:            PASSED — 0 errors",
				"sanitizer racecheck:           PASSED — 0 errors", "sanitizer synccheck:           PASSED — 0 errors",
				"gpu-check --small (limit", "Version 2099.1"}},
		{"sanitizer errors", []string{"FAKE=pass", "FAKE_SAN_ERRORS=2"}, nil, 1, "gpu-check.sh: FAILED — sanitizer memcheck (2 errors",
			[]string{"sanitizer racecheck:           FAILED — 2 errors"}},
		{"check fails", []string{"FAKE=fail"}, []string{"--no-timings", "--images", "100"}, 1,
			"gpu-check.sh: FAILED — gpu-check (1 of 25 checks failed: kernel conv2d (3 s))",
			[]string{"FAIL  kernel conv2d   value 3 is wrong", "--no-timings", "--images 100"}},
		{"exit 0 without the line", []string{"FAKE=zero"}, nil, 1, "gpu-check.sh: FAILED — gpu-check (exit status 0 but no 'gpu-check: PASSED' line)", nil},
		{"crash", []string{"FAKE=crash"}, nil, 1, "gpu-check.sh: FAILED — gpu-check (exit status 2 after", []string{"SIGSEGV"}},
		{"stale fatbin", []string{"FAKE=stale"}, nil, 1, "gpu-check.sh: FAILED — gpu-check (no usable GPU: stale fatbin: cuda/kernels.fatbin was compiled",
			[]string{"compute-sanitizer:             NOT RUN — no usable GPU"}},
		{"error line", []string{"FAKE=broken"}, nil, 1, "gpu-check.sh: FAILED — gpu-check (exit status 1: cuMemAlloc of 4 bytes: CUDA_ERROR_ILLEGAL_ADDRESS)", nil},
		{"sanitizer slow", []string{"FAKE=pass", "FAKE_SAN_SLOW=1", "GPU_CHECK_SANITIZER_LIMIT=1"}, nil, 0, "gpu-check.sh: PASSED",
			[]string{"sanitizer memcheck:            NOT FINISHED — stopped by its limit of 1 s"}},
		{"sanitizer slow, race", []string{"FAKE=pass", "FAKE_SAN_SLOW=1", "FAKE_SAN_RACE=1", "GPU_CHECK_SANITIZER_LIMIT=1"}, nil, 1,
			"gpu-check.sh: FAILED — sanitizer memcheck (1 reports before it was stopped", nil},
		{"no sanitizer", []string{"FAKE=pass", "GPU_CHECK_SANITIZER=none"}, nil, 0, "gpu-check.sh: PASSED",
			[]string{"compute-sanitizer:             NOT RUN — no compute-sanitizer here"}},
		{"waived fixtures", []string{"FAKE=pass"}, []string{"--no-fixtures", "--no-sanitizers"}, 0, "gpu-check.sh: PASSED",
			[]string{"fake goodnet gpu-check --no-fixtures", "NOT RUN — --no-sanitizers"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runScript(t, b, c.env, c.args...)
			if r.code != c.code || !strings.HasPrefix(r.lastLine, c.last) {
				t.Fatalf("exit %d, last line %q; want %d, %q\n%s", r.code, r.lastLine, c.code, c.last, r.log)
			}
			for _, s := range c.has {
				if !strings.Contains(r.log, s) {
					t.Errorf("log lacks %q:\n%s", s, r.log)
				}
			}
		})
	}
}

func TestScriptUsage(t *testing.T) {
	b := fakeBundle(t, false)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--fixtures", b, "--no-fixtures"}, "choose one"},
		{[]string{"--fixtures", t.TempDir()}, "expected.json not found"},
		{[]string{"--timeout", "5"}, "--timeout needs"},
		{[]string{"--bogus"}, "unknown argument"},
	} {
		r := runScript(t, b, []string{"FAKE=pass"}, c.args...)
		if r.code != 2 || !strings.Contains(r.out, c.want) {
			t.Errorf("%v: exit %d, output %q", c.args, r.code, r.out)
		}
	}
	// no fixtures in the bundle, none given: refused
	if err := os.RemoveAll(filepath.Join(b, "fixtures")); err != nil {
		t.Fatal(err)
	}
	r := runScript(t, b, []string{"FAKE=pass"})
	if r.code != 2 || !strings.Contains(r.out, "no fixtures") {
		t.Errorf("without fixtures: exit %d, %q", r.code, r.out)
	}
	help, err := exec.Command(filepath.Join(b, "gpu-check.sh"), "--help").Output()
	if err != nil || !strings.Contains(string(help), "Success is the last line `gpu-check.sh: PASSED`") {
		t.Errorf("--help: %v\n%s", err, help)
	}
}
