//go:build !cuda

package devprobe_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// build compiles a testdata program (the probe with -tags cuda) into dir/name.
func build(t *testing.T, dir, name, pkg string, tags ...string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the cuda stand-in")
	}
	args := append([]string{"build"}, tags...)
	args = append(args, "-o", filepath.Join(dir, name), "./testdata/"+pkg)
	out, err := exec.Command(goTool, args...).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("cuda.h")) || bytes.Contains(out, []byte("-lcuda")) {
			t.Skipf("no CUDA toolkit here (cuda.h, libcuda): %s", out)
		}
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, exe string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{o.String(), e.String(), code}
}

// The cuda build started without a usable GPU (or with GOODNET_FORCE_CPU=1): it hands over to
// goodnet-cpu, or fails clearly for --device gpu, before gorgonia.org/cu's init can exit.
func TestHandOver(t *testing.T) {
	dir := t.TempDir()
	build(t, dir, "goodnet", "probe", "-tags", "cuda")
	build(t, dir, "goodnet-cpu", "fakecpu")
	exe := filepath.Join(dir, "goodnet")

	var env []string
	if r := run(t, exe, nil, "--device", "gpu"); strings.HasPrefix(r.stdout, "gpu build") {
		t.Log("a GPU is usable here: testing the hand-over with GOODNET_FORCE_CPU=1")
		env = []string{"GOODNET_FORCE_CPU=1"}
	} else {
		if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "goodnet: --device gpu: no usable GPU (") || strings.Count(r.stderr, "\n") != 1 {
			t.Fatalf("--device gpu without a GPU: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		t.Logf("no GPU here: %s", strings.TrimSpace(r.stderr))
	}

	cases := []struct {
		args   []string
		notice bool // the "running on the CPU" line
		code   int
	}{
		{[]string{"predict", "--set", "x.h5"}, true, 0},
		{[]string{"predict", "--device", "auto", "--set", "x.h5"}, true, 0},
		{[]string{"predict", "--device=CPU"}, false, 0},
		{[]string{"predict", "-device", "cpu"}, false, 0},
		{[]string{"predict", "--", "--device", "gpu"}, true, 0}, // not a flag after --
		{[]string{"predict", "fail"}, true, 3},                  // the CPU build's exit code
	}
	for _, c := range cases {
		r := run(t, exe, env, c.args...)
		wantOut := "cpu build: args=" + quote(c.args) + " GOODNET_NO_GPU="
		if r.code != c.code || !strings.HasPrefix(r.stdout, wantOut) || strings.HasSuffix(strings.TrimSpace(r.stdout), `GOODNET_NO_GPU=""`) {
			t.Fatalf("%q: exit %d, stdout %q, want exit %d and %q…(a reason)", c.args, r.code, r.stdout, c.code, wantOut)
		}
		notice := strings.HasPrefix(r.stderr, "goodnet: no usable GPU (") && strings.HasSuffix(r.stderr, "); running on the CPU\n") && strings.Count(r.stderr, "\n") == 1
		if notice != c.notice || (!c.notice && r.stderr != "") {
			t.Fatalf("%q: stderr %q (want the one-line notice: %v)", c.args, r.stderr, c.notice)
		}
	}
	for _, args := range [][]string{{"--device", "gpu"}, {"predict", "--device=GPU"}, {"-device=gpu"}} {
		r := run(t, exe, append(env, "GOODNET_FORCE_CPU=1"), args...)
		if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "goodnet: --device gpu: no usable GPU (") {
			t.Fatalf("%q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}

	// gpu-check needs the GPU itself: no hand-over, one line, exit 1
	r := run(t, exe, append(env, "GOODNET_FORCE_CPU=1"), "gpu-check", "--fixtures", "x")
	if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "goodnet: gpu-check: no usable GPU (") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("gpu-check without a GPU: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	if err := os.Remove(filepath.Join(dir, "goodnet-cpu")); err != nil {
		t.Fatal(err)
	}
	r = run(t, exe, append(env, "GOODNET_FORCE_CPU=1"), "predict")
	if r.code != 1 || !strings.Contains(r.stderr, "goodnet-cpu is missing") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("without goodnet-cpu: exit %d, stderr %q", r.code, r.stderr)
	}
}

func quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = `"` + a + `"`
	}
	return "[" + strings.Join(q, " ") + "]"
}
