package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	"goodnet/demo"
	"goodnet/finetune"
	"goodnet/internal/atomicfile"
	"goodnet/internal/esc"
	"goodnet/pipeline"
	"goodnet/report"
)

func init() {
	register(&command{name: "demo", summary: "the built-in default: make a BadNet here, then repair it (≈ 1 min on 2 cores)", run: runDemo})
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[--out DIR] [--seed S] [--attack joint|pathway]", `
Runs the whole job on a built-in default, with no download: makes a small face-like data set in
the lab's layout (55×47×3 images, 32 identities) and a copy of it wearing a sunglasses trigger
labelled with the attacker's target class; trains a DeepID BadNet on it (goodnet's own trainer,
Adam); writes the BadNet as a Keras HDF5 model and the sets as the lab's h5 files; then runs
Fine-Pruning on it — the pruning defense (goodnet prune) and fine-tuning of each B' on the clean
validation set (goodnet prune --finetune-epochs) — and prints both tables: prune only, and
prune + fine-tune, per threshold. Every other command works on the files it writes (it prints
how).

--attack joint (the default) trains the BadNet on clean and poisoned images together, as the
lab's B was made: pruning alone leaves its backdoor working, fine-tuning removes it. --attack
pathway plants the backdoor in channels clean faces leave dormant: pruning alone removes it.`, stderr)
	out := fs.String("out", "out/demo", "output directory")
	seed := int64Var(fs, "seed", 1, "seed of the data set, the initial weights, the shuffling and the fine-tuning")
	attack := fs.String("attack", "joint", "how the BadNet is made: joint (trained on clean + poisoned images, like the lab's B) or pathway (a backdoor planted in channels clean faces leave dormant)")
	epochs := intVar(fs, "finetune-epochs", finetune.DefaultEpochs, 0, math.MaxInt, "fine-tuning epochs for each B' (0: prune only)")
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
	if err != nil {
		return err
	}
	tMake := time.Since(t0)
	what := "the pruning defense (goodnet prune)"
	if *epochs > 0 {
		what = fmt.Sprintf("Fine-Pruning (goodnet prune --finetune-epochs %d)", *epochs)
	}
	fmt.Fprintf(stdout, "\n== 2/2 %s on %s\n", what, backend.Describe())
	bars := newPruneBars(*quiet)
	defense := filepath.Join(*out, "defense")
	o, err := pipeline.Prune(pipeline.PruneOptions{BadModel: f.Model, CleanValid: f.CleanValid, BadValid: f.BadValid,
		CleanTest: f.CleanTest, BadTest: f.BadTest, Thresholds: []float64{2, 4, 10}, Scale: 1, Backend: backend, Out: defense,
		Progress:       bars.channels,
		FineTuneEpochs: *epochs, FineTuneSeed: *seed,
		FineTuneProgress: bars.epochs})
	bars.done()
	if err != nil {
		return err
	}
	report.Table(stdout, o.Result, o.FineTuned...)
	if f.BackdoorChannels != nil {
		fmt.Fprintf(stdout, "\nThe backdoor of this BadNet lives in conv_3 channels %v (planted so, see demo/); pruned in order: %v\n",
			f.BackdoorChannels, o.Result.Order)
	}
	files := "report.json, sweep.csv, sweep.png, bprime_*.h5"
	if len(o.FineTuned) > 0 {
		files += ", bprime_*_ft.h5"
	}
	fmt.Fprintf(stdout, "\nWrote %s (%s)\n", esc.Text(defense), files)
	fmt.Fprintf(stdout, "Done in %.0f s (BadNet %.0f s, pruning %.0f s, fine-tuning %.0f s). Try:\n", time.Since(t0).Seconds(),
		tMake.Seconds(), o.Timings["features"]+o.Timings["sweep"], o.Timings["finetune"])
	fmt.Fprintf(stdout, "  goodnet inspect %s\n", esc.Text(filepath.Join(defense, report.BprimeName(4))))
	fmt.Fprintf(stdout, "  goodnet eval --clean_set %s --bad_set %s --bad_model %s --pruned_bad_model_weights %s --threshold 4\n",
		esc.Text(f.CleanTest), esc.Text(f.BadTest), esc.Text(f.Model), esc.Text(defense))
	if len(o.FineTuned) > 0 {
		fmt.Fprintf(stdout, "  goodnet eval --clean_set %s --bad_set %s --bad_model %s --pruned_bad_model_weights %s\n",
			esc.Text(f.CleanTest), esc.Text(f.BadTest), esc.Text(f.Model), esc.Text(filepath.Join(defense, "bprime_4_ft.h5")))
	}
	fmt.Fprintf(stdout, "  goodnet finetune --bad_model %s --pruned_bad_model_weights %s --threshold 4 --clean_set %s --clean_test %s --bad_test %s --out %s\n",
		esc.Text(f.Model), esc.Text(defense), esc.Text(f.CleanValid), esc.Text(f.CleanTest), esc.Text(f.BadTest), esc.Text(filepath.Join(*out, "bprime_4_ft.h5")))
	fmt.Fprintf(stdout, "  goodnet predict --bad_model %s --pruned_bad_model_weights %s --threshold 4 --set %s\n",
		esc.Text(f.Model), esc.Text(defense), esc.Text(f.BadTest))
	return nil
}
