package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"goodnet/internal/fixtures"
	"goodnet/nn"
)

// cli runs one command line in-process and returns stdout, stderr and the exit status.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestEvalMatchesExpected(t *testing.T) {
	f := fixtures.Dir(t)
	p := func(n string) string { return filepath.Join(f, n) }
	base := []string{"eval", "--clean_set", p("cl_mini.h5"), "--bad_set", p("bd_mini.h5"), "--bad_model", p("bd_net.h5"),
		"--pruned_bad_model_weights", p("bprime_2.h5"), "--device", "cpu"}
	for _, extra := range [][]string{nil, {"--bad_model_weights", p("bd_weights.h5")}} {
		out, errs, code := cli(t, append(base, extra...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		// expected.json: GoodNet_2 predicts every clean face right and every poisoned one as 0
		for _, line := range []string{"Clean Classification accuracy: 100.0000\n", "Attack Success Rate: 100.0000\n",
			"Poisoned inputs flagged as class 1283: 0.0000 %\n", "B  alone: clean accuracy 100.0000 %, attack success rate 100.0000 %\n"} {
			if !strings.Contains(out, line) {
				t.Errorf("eval output lacks %q:\n%s", line, out)
			}
		}
		out, _, code = cli(t, append(append(base, extra...), "--json")...)
		var r map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r["clean_accuracy"] != 100.0 || r["flag_class"] != 1283.0 {
			t.Fatalf("--json: %d %s", code, out)
		}
	}
}

func TestPredict(t *testing.T) {
	f := fixtures.Dir(t)
	p := func(n string) string { return filepath.Join(f, n) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", p("cl_mini.h5")}, "43\n328\n196\n"},
		{[]string{"--set", p("bd_mini.h5"), "--pruned_bad_model_weights", p("bprime_2.h5")}, "0\n0\n0\n"},
		{[]string{p("faces/cl_0_label-43.png"), p("faces/sun_1_label-0.png"), p("faces/cl_2_label-196.png")}, "43\n0\n196\n"},
	} {
		out, errs, code := cli(t, append([]string{"predict", "--bad_model", p("bd_net.h5")}, tc.args...)...)
		if code != 0 || out != tc.want {
			t.Errorf("predict %v: exit %d, %q (want %q) %s", tc.args, code, out, tc.want, errs)
		}
	}
}

func TestInspectShowsPrunedChannels(t *testing.T) {
	out, errs, code := cli(t, "inspect", fixtures.Path(t, "bprime_2.h5"))
	if code != 0 {
		t.Fatal(errs)
	}
	want := "conv_3: 45 all-zero output channels: 0 1 2 3 6 9 12 13 14 15 17 19 20 21 22 23 24 25 26 27 29 30 31 32 33 34 36 37 38 39 40 41 42 43 44 45 47 48 49 50 51 53 55 58 59\n"
	if !strings.Contains(out, want) || !strings.Contains(out, "Keras 2.4.0") || !strings.Contains(out, "601643 parameters") {
		t.Fatalf("inspect:\n%s", out)
	}
	out, _, code = cli(t, "inspect", "--model", fixtures.Path(t, "bd_net.h5"), fixtures.Path(t, "bd_weights.h5"))
	if code != 0 || !strings.Contains(out, "Keras 2.3.1") || !strings.Contains(out, "conv_3: no all-zero output channels") {
		t.Fatalf("inspect of weights-only file:\n%s", out)
	}
}

// prune → bprime files that eval and inspect accept, with exactly the listed channels zero.
func TestPruneOutputs(t *testing.T) {
	f := fixtures.Dir(t)
	p := func(n string) string { return filepath.Join(f, n) }
	dir := t.TempDir()
	out, errs, code := cli(t, "prune", "--bad_model", p("bd_net.h5"), "--bad_model_weights", p("bd_weights.h5"),
		"--clean_valid", p("cl_mini.h5"), "--bad_valid", p("bd_mini.h5"), "--clean_test", p("cl_mini.h5"), "--bad_test", p("bd_mini.h5"),
		"--thresholds", "2,30", "--out", dir, "--device", "cpu")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "Fine-pruning conv_3 (60 channels)") || errs != "" {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", out, errs)
	}
	var rep struct {
		Layer    string
		Channels int
		Order    []int
		Steps    []map[string]any
		Saved    []struct {
			Threshold      float64
			Step           int
			File           string
			PrunedChannels []int `json:"pruned_channels"`
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("report.json: %v", err)
	}
	if rep.Layer != "conv_3" || rep.Channels != 60 || len(rep.Order) != 60 || len(rep.Steps) != 61 || len(rep.Saved) != 2 {
		t.Fatalf("report.json: %+v", rep)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "sweep.csv"))
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 62 ||
		lines[0] != "step,channel,fraction_pruned,clean_valid_acc,asr_valid,clean_test_acc,asr_test" || !strings.HasPrefix(lines[1], "0,,0.000000,") {
		t.Fatalf("sweep.csv:\n%s", csv)
	}
	if st, err := os.Stat(filepath.Join(dir, "sweep.png")); err != nil || st.Size() < 10000 {
		t.Fatalf("sweep.png: %v", err)
	}
	for _, s := range rep.Saved {
		bp := filepath.Join(dir, s.File)
		out, errs, code := cli(t, "inspect", "--model", p("bd_net.h5"), bp)
		if code != 0 {
			t.Fatal(errs)
		}
		var ch []string
		for _, c := range s.PrunedChannels {
			ch = append(ch, itoa(c))
		}
		if !strings.Contains(out, "conv_3: "+itoa(len(ch))+" all-zero output channels: "+strings.Join(ch, " ")+"\n") {
			t.Errorf("inspect %s does not list %v:\n%s", s.File, s.PrunedChannels, out)
		}
		_, errs, code = cli(t, "eval", "--clean_set", p("cl_mini.h5"), "--bad_set", p("bd_mini.h5"), "--bad_model", p("bd_net.h5"),
			"--pruned_bad_model_weights", dir, "--threshold", ftoa(s.Threshold))
		if code != 0 {
			t.Errorf("eval of %s: %s", s.File, errs)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 6 {
		t.Errorf("output dir holds %d entries, want 6 (2 B', csv, json, png, .goodnet)", len(ents))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func ftoa(f float64) string { return jsonNum(f) }

func jsonNum(f float64) string { b, _ := json.Marshal(f); return string(b) }

func TestUsageAndExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Commands:"},
		{[]string{"-h"}, 0, "Commands:"},
		{[]string{"help", "prune"}, 0, "Usage: goodnet prune"},
		{[]string{"eval", "-h"}, 0, "--pruned_bad_model_weights"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"eval", "--clean_set", "x.h5"}, 2, "--bad_set is required"},
		{[]string{"predict", "--bad_model", "b.h5"}, 2, "give either --set X.h5 or image files"},
		{[]string{"prune", "--bogus"}, 2, "unknown flag --bogus"},
		{[]string{"prune", "--bad_model", "b", "--clean_valid", "v", "--bad_valid", "w", "--out", "o", "--thresholds", "0,4"}, 2, "threshold \"0\": want a number in (0, 100)"},
		{[]string{"predict", "--bad_model", "b", "--set", "s", "--device", "tpu"}, 2, `--device "tpu"`},
		{[]string{"predict", "--bad_model", "b", "--set", "s", "--scale", "-1"}, 2, "--scale"},
		{[]string{"predict", "--bad_model", "/nonexistent/b.h5", "--set", "s"}, 1, "/nonexistent/b.h5"},
		{[]string{"predict", "--bad_model", "b.h5", "--set", "s", "--device", "gpu"}, 1, "--device gpu: this goodnet was built without CUDA"},
		{[]string{"bench", "--device", "cpu,gpu", "--images", "1", "--repeats", "1"}, 1, "goodnet bench: --device gpu: this goodnet was built without CUDA"},
		{[]string{"bench", "--device", "cpu,tpu"}, 2, `--device: device "tpu": want auto, cpu or gpu`},
		{[]string{"bench", "--device", ","}, 2, `--device ",": no device named`},
	} {
		out, errs, code := cli(t, tc.args...)
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("%v: exit %d (want %d), output %q lacks %q", tc.args, code, tc.code, out+errs, tc.want)
		}
		if code == 1 && strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: error is not one line: %q", tc.args, errs)
		}
	}
}

// A CPU build started by a cuda build's hand-over (internal/devprobe) reports the probe's
// reason for --device gpu.
func TestNoGPUReasonHandedOver(t *testing.T) {
	if slices.Contains(nn.Backends(), "gpu") {
		t.Skip("a GPU backend is registered")
	}
	t.Setenv("GOODNET_NO_GPU", "cuInit: CUDA_ERROR_NO_DEVICE (100)")
	for _, args := range [][]string{
		{"predict", "--bad_model", "b.h5", "--set", "s", "--device", "gpu"},
		{"bench", "--device", "gpu", "--images", "1", "--repeats", "1"},
	} {
		_, errs, code := cli(t, args...)
		want := fmt.Sprintf("goodnet %s: --device gpu: no usable GPU (cuInit: CUDA_ERROR_NO_DEVICE (100))\n", args[0])
		if code != 1 || errs != want {
			t.Errorf("%v: exit %d, stderr %q, want %q", args, code, errs, want)
		}
	}
}
