package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"goodnet/internal/fixtures"
	"goodnet/keras"
)

// bprime2Zero is the line inspect prints for the real B'_2 (TestInspectShowsPrunedChannels).
const bprime2Zero = "conv_3: 45 all-zero output channels: 0 1 2 3 6 9 12 13 14 15 17 19 20 21 22 23 24 25 26 27 29 30 31 32 33 34 36 37 38 39 40 41 42 43 44 45 47 48 49 50 51 53 55 58 59\n"

// goodnet finetune on the real files, then B” in eval, predict and inspect like any B'.
func TestFineTuneCommand(t *testing.T) {
	p := func(n string) string { return fixtures.Path(t, n) }
	out := filepath.Join(t.TempDir(), "bprime_2_ft.h5")
	stdout, stderr, code := cli(t, "finetune", "--bad_model", p("bd_net.h5"), "--pruned_bad_model_weights", p("bprime_2.h5"),
		"--clean_set", p("cl_mini.h5"), "--clean_test", p("cl_mini.h5"), "--bad_test", p("bd_mini.h5"),
		"--epochs", "2", "--batch_size", "3", "--device", "cpu", "--out", out)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"epoch  0/2 ", "(B', before fine-tuning)\n", "epoch  1/2  loss ", "epoch  2/2  loss ",
		"trained 2 epochs on 3 images of", "45 of conv_3 held at 0",
		"GoodNet(B, B'):  clean accuracy 100.00 %, attack success rate 100.00 %, poisoned inputs flagged   0.00 %\n",
		"GoodNet(B, B''): clean accuracy", "Wrote " + out + "\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	stdout, stderr, code = cli(t, "inspect", "--model", p("bd_net.h5"), out)
	if code != 0 || !strings.Contains(stdout, bprime2Zero) {
		t.Fatalf("inspect of B'' (exit %d, %s) does not list B'_2's zero channels:\n%s", code, stderr, stdout)
	}
	stdout, stderr, code = cli(t, "eval", "--clean_set", p("cl_mini.h5"), "--bad_set", p("bd_mini.h5"), "--bad_model", p("bd_net.h5"),
		"--pruned_bad_model_weights", out, "--json")
	var ev map[string]any
	if code != 0 || json.Unmarshal([]byte(stdout), &ev) != nil || ev["clean_images"] != 3.0 {
		t.Fatalf("eval of B'': exit %d %s %s", code, stdout, stderr)
	}
	stdout, stderr, code = cli(t, "predict", "--bad_model", p("bd_net.h5"), "--pruned_bad_model_weights", out, "--set", p("bd_mini.h5"))
	if code != 0 || len(strings.Fields(stdout)) != 3 {
		t.Fatalf("predict with B'': exit %d %q %s", code, stdout, stderr)
	}
}

// goodnet prune --finetune-epochs: bprime_<t>_ft.h5 beside each B', the second table, and
// the fine-tuned B' in inspect (the zero channels of its B'), eval and predict (the file, or
// the directory with --threshold and --finetuned); then goodnet finetune on the same
// directory with --threshold.
func TestPruneFineTuneCommand(t *testing.T) {
	p := func(n string) string { return fixtures.Path(t, n) }
	dir := t.TempDir()
	stdout, stderr, code := cli(t, "prune", "--bad_model", p("bd_net.h5"), "--clean_valid", p("cl_mini.h5"), "--bad_valid", p("bd_mini.h5"),
		"--clean_test", p("cl_mini.h5"), "--bad_test", p("bd_mini.h5"), "--thresholds", "2,50", "--out", dir, "--device", "cpu",
		"--finetune-epochs", "1", "--finetune-lr", "0.001")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Prune + fine-tune: B'' is B' trained 1 epochs (Adam 0.001)", "GoodNet(B, B'') fine-tuned", "bprime_2_ft.h5", "bprime_50_ft.h5", "finetune "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") { // .goodnet holds the generations
			names = append(names, e.Name())
		}
	}
	if len(names) != 7 {
		t.Errorf("files %v, want 7 (2 B', 2 B'', csv, json, png)", names)
	}
	zero := func(file string) string {
		out, errs, code := cli(t, "inspect", "--model", p("bd_net.h5"), filepath.Join(dir, file))
		if code != 0 {
			t.Fatal(errs)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "conv_3: ") {
				return l
			}
		}
		t.Fatalf("inspect %s:\n%s", file, out)
		return ""
	}
	for _, th := range []string{"2", "50"} {
		if a, b := zero("bprime_"+th+".h5"), zero("bprime_"+th+"_ft.h5"); a != b || !strings.Contains(a, "all-zero output channels: ") {
			t.Errorf("B' lists %q, B'' %q", a, b)
		}
		evalArgs := []string{"eval", "--clean_set", p("cl_mini.h5"), "--bad_set", p("bd_mini.h5"), "--bad_model", p("bd_net.h5"), "--device", "cpu"}
		byFile, errs, code := cli(t, append(evalArgs, "--pruned_bad_model_weights", filepath.Join(dir, "bprime_"+th+"_ft.h5"))...)
		if code != 0 {
			t.Errorf("eval of B'' %s: %s", th, errs)
		}
		// --finetuned picks the same file from the directory; without it, B' (other numbers
		// unless fine-tuning changed no prediction: compared by file below)
		byDir, errs, code := cli(t, append(evalArgs, "--pruned_bad_model_weights", dir, "--threshold", th, "--finetuned")...)
		if code != 0 || metricLines(byDir) != metricLines(byFile) || !strings.Contains(byDir, "bprime_"+th+"_ft.h5") {
			t.Errorf("eval --finetuned --threshold %s: exit %d %s\n%s\nwant (the file given)\n%s", th, code, errs, byDir, byFile)
		}
		for _, pair := range [][2]string{{"bprime_" + th + "_ft.h5", "--finetuned"}, {"bprime_" + th + ".h5", ""}} {
			args := []string{"predict", "--bad_model", p("bd_net.h5"), "--set", p("cl_mini.h5"), "--device", "cpu"}
			a, _, c1 := cli(t, append(args, "--pruned_bad_model_weights", filepath.Join(dir, pair[0]))...)
			dirArgs := append(args, "--pruned_bad_model_weights", dir, "--threshold", th)
			if pair[1] != "" {
				dirArgs = append(dirArgs, pair[1])
			}
			b, errs, c2 := cli(t, dirArgs...)
			if c1 != 0 || c2 != 0 || a != b {
				t.Errorf("predict with %s and with the directory %v differ (exit %d, %d): %s", pair[0], pair[1], c1, c2, errs)
			}
		}
	}
	out := filepath.Join(dir, "again_ft.h5")
	_, stderr, code = cli(t, "finetune", "--bad_model", p("bd_net.h5"), "--pruned_bad_model_weights", dir, "--threshold", "2",
		"--clean_set", p("cl_mini.h5"), "--epochs", "1", "--layers", "fc_2, output", "--out", out, "--quiet")
	if code != 0 {
		t.Fatalf("finetune from the directory: exit %d: %s", code, stderr)
	}
}

// metricLines is eval's output without the lines that name B's file or the time taken.
func metricLines(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "% threshold): ") || strings.HasPrefix(l, "(") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// Ctrl-C (SIGINT to the process group) while goodnet finetune runs: exit status 130 and no
// file, or — when it came after the file was renamed into place — the complete file; never a
// temporary file.
func TestFineTuneInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs finetune 9 times")
	}
	bin := buildGoodnet(t)
	p := func(n string) string { return fixtures.Path(t, n) }
	dir := t.TempDir()
	out := filepath.Join(dir, "b_ft.h5")
	args := []string{"finetune", "--device", "cpu", "--quiet", "--bad_model", p("bd_net.h5"), "--pruned_bad_model_weights", p("bprime_2.h5"),
		"--clean_set", p("cl_mini.h5"), "--epochs", "200", "--batch_size", "3", "--out", out}
	r := runBinary(t, bin, 2*time.Minute, nil, args...)
	if r.code != 0 {
		t.Fatalf("finetune: exit %d: %s", r.code, r.stderr)
	}
	full := r.elapsed
	os.Remove(out)
	interrupted := 0
	for k := 1; k <= 8; k++ {
		delay := full * time.Duration(k) / 8
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		cmd.Wait()
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		code := cmd.ProcessState.ExitCode()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		switch {
		case len(names) == 0 && (code == 130 || ws.Signaled()):
			interrupted++
			if code == 130 && !strings.Contains(stderr.String(), "stopped by SIGINT") {
				t.Errorf("SIGINT at %v: stderr %q", delay, stderr.String())
			}
		case len(names) == 1 && names[0] == "b_ft.h5" && (code == 0 || code == 130):
			// finished (or renamed into place) before the signal: the complete file
			m, err := keras.LoadModel(p("bd_net.h5"))
			if err == nil {
				err = keras.LoadWeights(m, out)
			}
			if err != nil {
				t.Errorf("SIGINT at %v: %v", delay, err)
			}
			os.Remove(out)
		default:
			t.Errorf("SIGINT at %v: exit %d, files %v, stderr %q", delay, code, names, stderr.String())
		}
	}
	if interrupted == 0 {
		t.Errorf("no run was interrupted (a full run takes %v)", full)
	}
	t.Logf("a full run takes %v; %d of 8 runs interrupted", full, interrupted)
}

// goodnet demo end to end: the BadNet, prune + fine-tune (one epoch here), both tables, the
// files under --out.
func TestDemoCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a BadNet")
	}
	dir := t.TempDir()
	stdout, stderr, code := cli(t, "demo", "--out", dir, "--finetune-epochs", "1", "--quiet", "--device", "cpu")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"training DeepID on the clean images and the", "Fine-Pruning (goodnet prune --finetune-epochs 1)",
		"threshold pruned   valid acc", "Prune + fine-tune: B'' is B' trained 1 epochs", "bprime_4_ft.h5"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"bd_net.h5", "cl_train.h5", "cl_valid.h5", "bd_valid.h5", "cl_test.h5", "bd_test.h5",
		"defense/report.json", "defense/sweep.png", "defense/bprime_2.h5", "defense/bprime_2_ft.h5"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
