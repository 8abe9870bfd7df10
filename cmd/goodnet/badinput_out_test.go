package main

// The bad-input suite's cases of the command line and the output directory (issues 13 and
// 18): short usage errors, strictly parsed numbers, --out checked before anything is made
// and never half-made, a held --out, B' files of earlier runs never taken for the current
// run's, and file-borne text escaped in error lines. The runs that need real processes (a
// signal or SIGKILL at many moments of prune, two runs at once, stdout on /dev/full) are in
// outputs_test.go.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"goodnet/dataset"
	"goodnet/internal/atomicfile"
)

func outCases() []badCase {
	usage := func(args ...string) func(t *testing.T, e *badEnv) ([]string, string) {
		return func(t *testing.T, e *badEnv) ([]string, string) {
			cmd := "goodnet -h"
			if commands[args[0]] != nil {
				cmd = "goodnet " + args[0] + " -h"
			}
			return args, cmd
		}
	}
	predictFlag := func(flag, v string) func(t *testing.T, e *badEnv) ([]string, string) {
		return func(t *testing.T, e *badEnv) ([]string, string) {
			return append(predictSet(e, e.clean), flag, v), flag
		}
	}
	// empty: the directory must still be empty (no .goodnet) after the run
	empty := func(dir *string) func(t *testing.T, how string) {
		return func(t *testing.T, how string) {
			if ents, _ := os.ReadDir(*dir); len(ents) != 0 {
				t.Errorf("%s: the failed run left %v in %s", how, ents, *dir)
			}
		}
	}
	var parent, emptyOut, lockedOut string
	return []badCase{
		// --- usage errors: one line, what is wrong and where to look, exit 2 (13.4, 18.10) ---
		{name: "usage/unknown-command", code: 2, want: `unknown command "frobnicate" (see 'goodnet -h')`, args: usage("frobnicate")},
		{name: "usage/unknown-flag", code: 2, want: `unknown flag --bogus (see 'goodnet prune -h')`, args: usage("prune", "--bogus")},
		{name: "usage/flag-before-command", code: 2, want: `unknown flag --out: give a command first`, args: usage("--out", "x")},
		{name: "usage/help-unknown-command", code: 2, want: `help: unknown command "nosuch"`, args: usage("help", "nosuch")},
		{name: "usage/flag-without-value", code: 2, want: `--threshold needs a value`, args: usage("eval", "--threshold")},
		// --- numbers, strictly (13.5, 18.10) ---
		{name: "number/scale-trailing-garbage", code: 2, want: `--scale "2abc": want a positive number`, args: predictFlag("--scale", "2abc")},
		{name: "number/scale-two-numbers", code: 2, want: `--scale "3 4": want a positive number`, args: predictFlag("--scale", "3 4")},
		{name: "number/scale-nan", code: 2, want: `--scale "NaN": want a positive number`, args: predictFlag("--scale", "NaN")},
		{name: "number/scale-inf", code: 2, want: `--scale "Inf": want a positive number`, args: predictFlag("--scale", "Inf")},
		{name: "number/scale-underflows", code: 2, want: `--scale "1e-50": want a positive number from 1.2e-38 to 1e6`, args: predictFlag("--scale", "1e-50")},
		{name: "number/scale-fraction", code: 2, want: `--scale "1/255": write the value (0.00392156862745098), not a fraction`, args: predictFlag("--scale", "1/255")},
		{name: "number/scale-hex", code: 2, want: `--scale "0x1p-8": want a positive number`, args: predictFlag("--scale", "0x1p-8")},
		{name: "number/mean-garbage", code: 2, want: `--mean "0.5x,0,0": "0.5x" is not a number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return append(predictSet(e, e.clean), "--mean", "0.5x,0,0", "--std", "1,1,1"), "--mean"
		}},
		{name: "number/std-inf", code: 2, want: `--std "1,Inf,1": "Inf" is not a number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return append(predictSet(e, e.clean), "--mean", "0,0,0", "--std", "1,Inf,1"), "--std"
		}},
		{name: "number/thresholds-duplicates", code: 2, want: `threshold "2.0" is given twice (as "2" too)`, args: thresholds("2,2.0,02")},
		{name: "number/thresholds-inf", code: 2, want: `threshold "Inf": want a number in (0, 100)`, args: thresholds("2,Inf")},
		{name: "number/thresholds-hex", code: 2, want: `threshold "0x1p1": want a number in (0, 100)`, args: thresholds("0x1p1")},
		{name: "number/thresholds-two-numbers", code: 2, want: `threshold "2 4": want a number in (0, 100)`, args: thresholds("2 4,10")},
		{name: "number/max-steps-garbage", code: 2, want: `--max-steps "3abc": want a whole number ≥ 0`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--max-steps", "3abc"), "--max-steps"
		}},
		{name: "number/max-steps-float", code: 2, want: `--max-steps "1e3": want a whole number ≥ 0`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--max-steps", "1e3"), "--max-steps"
		}},
		{name: "number/max-steps-huge", code: 2, want: `--max-steps "99999999999999999999": want a whole number ≥ 0`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--max-steps", "99999999999999999999"), "--max-steps"
		}},
		{name: "number/threshold-garbage", code: 2, want: `--threshold "7abc": want a percentage in (0, 100)`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return evalBprime(e, e.dir, "--threshold", "7abc"), "--threshold"
		}},
		{name: "number/threshold-nan", code: 2, want: `--threshold "NaN": want a percentage in (0, 100)`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return evalBprime(e, e.dir, "--threshold", "NaN"), "--threshold"
		}},
		{name: "number/threshold-100", code: 2, want: `--threshold "100": want a percentage in (0, 100)`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return evalBprime(e, e.dir, "--threshold", "100"), "--threshold"
		}},
		{name: "number/bench-images-0", code: 2, want: `--images "0": want a whole number ≥ 1`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return []string{"bench", "--device", "cpu", "--images", "0"}, "--images"
		}},
		{name: "number/bench-repeats-float", code: 2, want: `--repeats "2.5": want a whole number from 1 to 1000`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return []string{"bench", "--device", "cpu", "--repeats", "2.5"}, "--repeats"
		}},
		{name: "number/demo-seed", code: 2, want: `--seed "1x": want a whole number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return []string{"demo", "--seed", "1x", "--out", filepath.Join(t.TempDir(), "demo")}, "--seed"
		}},
		{name: "number/gpu-check-faces", code: 2, want: `--faces "-1": want a whole number ≥ 0`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return []string{"gpu-check", "--no-fixtures", "--faces", "-1"}, "--faces"
		}},
		// every numeric flag of the commands that train: finetune, prune --finetune-*, demo, audit
		{name: "number/finetune-epochs-hex", code: 2, want: `--epochs "0x10": want a whole number ≥ 1`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--epochs", "0x10"), "--epochs"
		}},
		{name: "number/finetune-batch-size-separators", code: 2, want: `--batch_size "1_0": want a whole number ≥ 1`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--batch_size", "1_0"), "--batch_size"
		}},
		{name: "number/finetune-seed-hex", code: 2, want: `--seed "0x10": want a whole number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--seed", "0x10"), "--seed"
		}},
		{name: "number/finetune-lr-hex", code: 2, want: `--lr "0x1p-3": want a positive number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--lr", "0x1p-3"), "--lr"
		}},
		{name: "number/finetune-lr-spaces", code: 2, want: `--lr " 0.1": want a positive number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--lr", " 0.1"), "--lr"
		}},
		{name: "number/finetune-threshold-nan", code: 2, want: `--threshold "NaN": want a percentage in (0, 100)`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--threshold", "NaN"), "--threshold"
		}},
		{name: "number/prune-finetune-epochs-hex", code: 2, want: `--finetune-epochs "0x3": want a whole number ≥ 0`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--finetune-epochs", "0x3"), "--finetune-epochs"
		}},
		{name: "number/prune-finetune-seed-separators", code: 2, want: `--finetune-seed "1_0": want a whole number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--finetune-epochs", "1", "--finetune-seed", "1_0"), "--finetune-seed"
		}},
		{name: "number/prune-finetune-lr-hex", code: 2, want: `--finetune-lr "0x1p-3": want a positive number`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return pruneTo(e, filepath.Join(t.TempDir(), "out"), "--finetune-epochs", "1", "--finetune-lr", "0x1p-3"), "--finetune-lr"
		}},
		{name: "number/demo-finetune-epochs-hex", code: 2, want: `--finetune-epochs "0x2": want a whole number ≥ 0`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			return []string{"demo", "--finetune-epochs", "0x2", "--out", filepath.Join(t.TempDir(), "demo")}, "--finetune-epochs"
		}},
		// --- --threshold where it would be ignored (18.10) ---
		{name: "threshold/with-a-bprime-file", code: 2, want: "--threshold 7 picks a B' from the --out directory of goodnet prune, and --pruned_bad_model_weights", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return evalBprime(e, e.weights, "--threshold", "7"), e.weights
		}},
		{name: "threshold/finetune-with-a-bprime-file", code: 2, want: "--threshold 7 picks a B' from the --out directory of goodnet prune, and --pruned_bad_model_weights", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return finetuneTo(t, e, filepath.Join(t.TempDir(), "b_ft.h5"), "--threshold", "7"), e.bprime(t)
		}},
		{name: "threshold/without-bprime", code: 2, want: "--threshold 7 picks a B' from the --out directory", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return append(predictSet(e, e.clean), "--threshold", "7"), "--threshold"
		}},
		// --- nothing is made before the inputs are read; a failed run leaves no new directory (13.3) ---
		{name: "out/missing-model-nothing-made", code: 1, want: "no such file", after: empty(&emptyOut), args: func(t *testing.T, e *badEnv) ([]string, string) {
			emptyOut = t.TempDir()
			p := e.path("nomodel.h5")
			args := pruneTo(e, emptyOut)
			args[slicesIndex(args, "--bad_model")+1] = p
			return args, p
		}},
		{name: "out/bad-set-no-new-directory", code: 1, want: "no such file", after: empty(&parent), args: func(t *testing.T, e *badEnv) ([]string, string) {
			parent = t.TempDir()
			p := e.path("noset.h5")
			args := pruneTo(e, filepath.Join(parent, "new", "out"))
			args[slicesIndex(args, "--clean_valid")+1] = p
			return args, p
		}},
		{name: "out/layer-error-no-new-directory", code: 1, want: `--layer "conv_9": no such layer`, after: empty(&parent), args: func(t *testing.T, e *badEnv) ([]string, string) {
			parent = t.TempDir()
			return pruneTo(e, filepath.Join(parent, "new", "out"), "--layer", "conv_9"), "--layer"
		}},
		{name: "out/layer-error-existing-directory", code: 1, want: `--layer "conv_9": no such layer`, after: empty(&emptyOut), args: func(t *testing.T, e *badEnv) ([]string, string) {
			emptyOut = t.TempDir()
			return pruneTo(e, emptyOut, "--layer", "conv_9"), "--layer"
		}},
		{name: "out/dangling-symlink", code: 1, want: "a dangling symbolic link (to ", args: func(t *testing.T, e *badEnv) ([]string, string) {
			d := t.TempDir()
			link := filepath.Join(d, "out")
			if err := os.Symlink(filepath.Join(d, "nowhere"), link); err != nil {
				t.Fatal(err)
			}
			return pruneTo(e, link), link
		}},
		{name: "out/demo-dangling-symlink", code: 1, want: "a dangling symbolic link (to ", args: func(t *testing.T, e *badEnv) ([]string, string) {
			d := t.TempDir()
			link := filepath.Join(d, "demo")
			if err := os.Symlink(filepath.Join(d, "nowhere"), link); err != nil {
				t.Fatal(err)
			}
			return []string{"demo", "--device", "cpu", "--out", link}, link
		}},
		{name: "out/write-sets-under-a-file", code: 1, want: "cannot create the output directory: not a directory", args: func(t *testing.T, e *badEnv) ([]string, string) {
			d := filepath.Join(e.clean, "sets")
			return []string{"bench", "--device", "cpu", "--images", "4", "--write-sets", d}, d
		}},
		// --- a directory another run is writing into (13.2; two real processes: outputs_test.go) ---
		{name: "out/held-by-another-run", code: 1, want: "another goodnet run is writing into it (pid 4242 on elsewhere since 10:00:00)", after: func(t *testing.T, how string) {
			if ents, _ := os.ReadDir(lockedOut); len(ents) != 1 {
				t.Errorf("%s: %s holds %v", how, lockedOut, ents)
			}
		}, args: func(t *testing.T, e *badEnv) ([]string, string) {
			lockedOut = t.TempDir()
			holdLock(t, lockedOut, "pid 4242 on elsewhere since 10:00:00\n")
			return pruneTo(e, lockedOut), lockedOut
		}},
		// --- B' of an earlier run never taken for the current run's (18.6) ---
		{name: "stale/threshold-not-reached-by-the-last-run", code: 1, want: "no B' for the 10 % threshold: the run that wrote it did not reach it", after: func(t *testing.T, how string) {
			if _, err := os.Lstat(filepath.Join(parent, "bprime_10.h5")); err == nil {
				t.Errorf("%s: the first run's bprime_10.h5 is still in %s", how, parent)
			}
		}, args: func(t *testing.T, e *badEnv) ([]string, string) {
			parent = filepath.Join(t.TempDir(), "out")
			reached, unreachable := labelledSets(t, e)
			if _, stderr, code := cli(t, pruneWith(e, reached, parent, "--thresholds", "10")...); code != 0 {
				t.Fatalf("first prune: %s", stderr)
			}
			if _, err := os.Stat(filepath.Join(parent, "bprime_10.h5")); err != nil {
				t.Fatalf("the first run saved no B' at 10 %%: %v", err)
			}
			if _, stderr, code := cli(t, pruneWith(e, unreachable, parent, "--thresholds", "10")...); code != 0 {
				t.Fatalf("second prune: %s", stderr)
			}
			return evalBprime(e, parent, "--threshold", "10"), parent
		}},
		// --- --finetuned: the fine-tuned B' of a prune directory ---
		{name: "bprime/finetuned-without-threshold", code: 2, want: "--finetuned picks the fine-tuned B' of --threshold T", args: func(t *testing.T, e *badEnv) ([]string, string) {
			return evalBprime(e, t.TempDir(), "--finetuned"), "--finetuned"
		}},
		{name: "bprime/finetuned-not-fine-tuned", code: 1, want: "the run that wrote it did not fine-tune B' at the 10 % threshold", args: func(t *testing.T, e *badEnv) ([]string, string) {
			d := filepath.Join(t.TempDir(), "out")
			reached, _ := labelledSets(t, e)
			if _, stderr, code := cli(t, pruneWith(e, reached, d, "--thresholds", "10")...); code != 0 {
				t.Fatalf("prune: %s", stderr)
			}
			return evalBprime(e, d, "--threshold", "10", "--finetuned"), d
		}},
		// --- text from files and paths escaped in error lines (18.3) ---
		{name: "escape/path-in-error", code: 1, want: `face\x1b]0;owned\a\x1b[2J\u202egnp.png: no such file`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("face\x1b]0;owned\x07\x1b[2J\u202egnp.png")
			return predictImages(e, p), e.path("face")
		}},
		{name: "escape/newline-in-path", code: 1, want: `nope\nforged: no such file`, args: func(t *testing.T, e *badEnv) ([]string, string) {
			p := e.path("nope\nforged")
			return predictSet(e, p), e.path("nope")
		}},
	}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// holdLock makes dir look written into by another process: its lock file, flock(2)ed by
// an open file description of the test's own (released when the test ends).
func holdLock(t *testing.T, dir, holder string) {
	t.Helper()
	meta := filepath.Join(dir, atomicfile.MetaDir)
	if err := os.MkdirAll(meta, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(meta, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	f.WriteString(holder)
}

// labelledSets writes two copies of the clean set: one labelled with B's own predictions
// (accuracy 100 %: pruning drops it, B' files are saved) and one labelled with other classes
// (accuracy 0 %: it cannot drop, no threshold is reached).
func labelledSets(t *testing.T, e *badEnv) (reached, unreachable string) {
	t.Helper()
	stdout, stderr, code := cli(t, predictSet(e, e.clean)...)
	if code != 0 {
		t.Fatalf("predict: %s", stderr)
	}
	s, err := dataset.Load(e.clean, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range strings.Fields(stdout) {
		c, _ := strconv.Atoi(f)
		s.Y[i] = int32(c)
	}
	reached = filepath.Join(t.TempDir(), "reached.h5")
	if err := dataset.Save(reached, s, "uint8"); err != nil {
		t.Fatal(err)
	}
	for i := range s.Y {
		s.Y[i] = (s.Y[i] + 1) % 3
	}
	unreachable = filepath.Join(t.TempDir(), "unreachable.h5")
	if err := dataset.Save(unreachable, s, "uint8"); err != nil {
		t.Fatal(err)
	}
	return reached, unreachable
}

// pruneWith is pruneTo with clean as the clean validation set.
func pruneWith(e *badEnv, clean, out string, extra ...string) []string {
	args := pruneTo(e, out, extra...)
	args[slicesIndex(args, "--clean_valid")+1] = clean
	return args
}
