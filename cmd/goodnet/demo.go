package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"goodnet/demo"
	"goodnet/internal/atomicfile"
	"goodnet/internal/esc"
	"goodnet/pipeline"
	"goodnet/report"
	"goodnet/train"
)

func init() {
	register(&command{name: "demo", summary: "the built-in default: make a BadNet here, then repair it (≈ 20 s on 2 cores)", run: runDemo})
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[--out DIR] [--seed S]", `
Runs the whole job on a built-in default, with no download: makes a small face-like data set in
the lab's layout (55×47×3 images, 32 identities) and a copy of it wearing a sunglasses trigger
labelled with the attacker's target class; trains a DeepID BadNet on it (gorgonia, Adam);
writes the BadNet as a Keras HDF5 model and the sets as the lab's h5 files; then runs the
pruning defense (goodnet prune) and prints the threshold table. Every other command works on
the files it writes (it prints how).`, stderr)
	out := fs.String("out", "out/demo", "output directory")
	seed := int64Var(fs, "seed", 1, "seed of the data set, the initial weights and the shuffling")
	attack := fs.String("attack", "joint", "how the BadNet is made: joint (trained on clean + poisoned images, like the lab's B) or pathway (a backdoor planted in channels clean faces leave dormant)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	device := deviceVar(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	atk, err := demo.ParseAttack(*attack)
	if err != nil {
		return usagef("--attack: %v", err)
	}
	if err := atomicfile.CheckOutDir(*out); err != nil {
		return err
	}
	backend, err := openBackend(*device)
	if err != nil {
		return err
	}
	t0 := time.Now()
	fmt.Fprintf(stdout, "== 1/2 making a BadNet (data set, training) in %s\n", esc.Text(*out))
	f, err := demo.Make(demo.Options{Dir: *out, Seed: *seed, Log: stdout, Attack: atk, Backend: backend})
	if errors.Is(err, train.ErrCUDABuild) {
		return handOverToCPUBuild(stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n== 2/2 the pruning defense (goodnet prune) on %s\n", backend.Describe())
	bar := report.NewProgress(os.Stderr, "pruning", *quiet)
	defense := filepath.Join(*out, "defense")
	o, err := pipeline.Prune(pipeline.PruneOptions{BadModel: f.Model, CleanValid: f.CleanValid, BadValid: f.BadValid,
		CleanTest: f.CleanTest, BadTest: f.BadTest, Thresholds: []float64{2, 4, 10}, Scale: 1, Backend: backend, Out: defense,
		Progress: func(done, total int) { bar.Update(done, total, "channels") }})
	bar.Done()
	if err != nil {
		return err
	}
	report.Table(stdout, o.Result)
	if f.BackdoorChannels != nil {
		fmt.Fprintf(stdout, "\nThe backdoor of this BadNet lives in conv_3 channels %v (planted so, see demo/); pruned in order: %v\n",
			f.BackdoorChannels, o.Result.Order)
	}
	e := esc.Text
	fmt.Fprintf(stdout, "Wrote %s (report.json, sweep.csv, sweep.png, bprime_*.h5)\n", e(defense))
	fmt.Fprintf(stdout, "Done in %.0f s. Try:\n", time.Since(t0).Seconds())
	fmt.Fprintf(stdout, "  goodnet inspect %s\n", e(filepath.Join(defense, report.BprimeName(2))))
	fmt.Fprintf(stdout, "  goodnet eval --clean_set %s --bad_set %s --bad_model %s --pruned_bad_model_weights %s --threshold 2\n",
		e(f.CleanTest), e(f.BadTest), e(f.Model), e(defense))
	fmt.Fprintf(stdout, "  goodnet predict --bad_model %s --pruned_bad_model_weights %s --threshold 2 --set %s\n",
		e(f.Model), e(defense), e(f.BadTest))
	return nil
}

// handOverToCPUBuild runs this command line in goodnet-cpu: the cuda build has no training
// (gorgonia's cuda mode needs cuDNN).
func handOverToCPUBuild(stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cpu := filepath.Join(filepath.Dir(exe), "goodnet-cpu")
	if _, err := os.Stat(cpu); err != nil {
		return fmt.Errorf("training runs in the CPU build, and %s was not found", cpu)
	}
	fmt.Fprintf(stderr, "goodnet: training runs in the CPU build; handing over to %s\n", cpu)
	return syscall.Exec(cpu, append([]string{cpu}, os.Args[1:]...), os.Environ())
}
