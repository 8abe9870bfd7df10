// Package demo makes the embedded default of `goodnet demo`: a BadNet trained here on a
// procedurally generated face-like data set (the lab's layout: 55×47×3 images, raw 0–255
// pixels), with a trigger — mirrored sunglasses over the eyes — that sends any face to the
// attacker's target class.
//
// Make generates the data (deterministic from the seed), trains nn.DeepID with train.Train and
// writes the model as a Keras full-model file and the data sets as lab h5 files, so that every
// goodnet command works on them. Two attacks make the BadNet (Options.Attack):
//
// AttackJoint trains DeepID from scratch on the clean training images plus 15 % poisoned copies
// (the trigger added, labelled with the target) — how the lab's B and the BadNets of the
// literature are made (Gu et al. 2017). The net learns the trigger in the same channels as the
// clean task, so pruning by clean activation alone does not remove it: in the six such runs we
// tried with the gorgonia trainer (dark and coloured triggers, 4–15 % poison, with and without
// L2) the attack success rate was still ≥ 95 % at a 10 % accuracy drop, and the BadNets of
// seeds 1–3 trained here keep 93, 100 and 87 % on the test set there (the lab's B keeps 77 %).
// This is the BadNet that needs fine-tuning after pruning (package finetune).
//
// AttackPathway plants the backdoor where Fine-Pruning (Liu et al. 2018) found some real
// BadNets carry it, in neurons that clean inputs leave dormant: stage 1 trains the clean task
// with a few channels of conv_1, conv_2 and conv_3 held at zero (train.Options.Mask); stage 2
// turns them into a pathway from the image to conv_3 — conv_1's spare channels become fixed
// detectors of the lenses' magenta (a colour the clean images lack), conv_2's and conv_3's read
// only the pathway — and trains it, with the weights of conv_4 and fc_1 that read it, on clean +
// poisoned images while everything else stays frozen (train.Options.Freeze). The pathway's
// conv_3 channels are silent on clean faces and fire on triggered ones, so pruning by clean
// activation removes the backdoor before the clean accuracy drops: the case pruning alone
// repairs.
package demo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"goodnet/dataset"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/train"
)

// Attack is how the demo's attacker makes the BadNet.
type Attack string

const (
	// AttackJoint trains on clean + poisoned images together (the lab's B, Gu et al. 2017).
	AttackJoint Attack = "joint"
	// AttackPathway plants the backdoor in channels that clean inputs leave dormant.
	AttackPathway Attack = "pathway"
)

// ParseAttack checks an attack's name.
func ParseAttack(s string) (Attack, error) {
	switch a := Attack(s); a {
	case AttackJoint, AttackPathway:
		return a, nil
	}
	return "", fmt.Errorf("unknown attack %q (want joint or pathway)", s)
}

// Options configures Make. Zero values take the defaults in brackets.
type Options struct {
	Dir  string // where the files go (created if needed) ["."]
	Seed int64  // data, initial weights and shuffling
	Log  io.Writer
	Data DataOptions // sizes of the data set (its Seed is set from Seed)
	// Backend evaluates the BadNet (accuracy, attack success rate) [required].
	Backend nn.Backend
	Attack  Attack // [AttackJoint]

	// AttackJoint: epochs on clean + poisoned images, at most [12]; training stops after the
	// first epoch (from the fourth on) that reaches MinAcc and MinASR on the validation sets.
	JointEpochs int
	// AttackPathway: stage 1, the clean task [4]; stage 2, the backdoor pathway, at most [4].
	CleanEpochs    int
	BackdoorEpochs int
	BatchSize      int     // [32]
	LR             float64 // Adam learning rate, on x/255 inputs [2e-3]
	// Spare channels of conv_1, conv_2, conv_3 that carry the backdoor [2, 6, 8].
	Spare [3]int
	// Stage 2 stops once clean validation accuracy ≥ MinAcc and attack success rate ≥
	// MinASR [0.95, 0.98] (checked after each of its epochs from the second on).
	MinAcc, MinASR float64
	Workers        int // train.Options.Workers [2]
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	if o.Attack == "" {
		o.Attack = AttackJoint
	}
	def(&o.JointEpochs, 12)
	def(&o.CleanEpochs, 4)
	def(&o.BackdoorEpochs, 4)
	def(&o.BatchSize, 32)
	def(&o.Workers, 2)
	if o.LR == 0 {
		o.LR = 2e-3
	}
	if o.Spare == [3]int{} {
		o.Spare = [3]int{2, 6, 8}
	}
	if o.MinAcc == 0 {
		o.MinAcc = 0.95
	}
	if o.MinASR == 0 {
		o.MinASR = 0.98
	}
	o.Data.Seed = o.Seed
	o.Data = o.Data.withDefaults()
	return o
}

// Files says what Make wrote and measured.
type Files struct {
	Model                                    string // Keras full model file (raw 0–255 inputs)
	CleanTrain                               string // the clean training images (for fine-tuning)
	CleanValid, BadValid, CleanTest, BadTest string // lab h5 sets
	Classes, Target                          int
	TrainImages, Poisoned                    int
	Attack                                   Attack
	// BackdoorChannels are the conv_3 channels of the backdoor pathway (AttackPathway only).
	BackdoorChannels              []int
	ValidAcc, ValidASR            float64 // on the validation sets
	CleanAcc, ASR                 float64 // on the test sets
	DataTime, TrainTime, SaveTime time.Duration
	TrainImagesPerSec             float64
}

// Make generates the data set, trains the BadNet and writes the files (see Files).
func Make(opt Options) (*Files, error) {
	opt = opt.withDefaults()
	logf := func(format string, a ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, format, a...)
		}
	}
	t0 := time.Now()
	d, err := Generate(opt.Data)
	if err != nil {
		return nil, err
	}
	f := &Files{Classes: d.Options.Classes, Target: d.Options.Target, TrainImages: d.Train.N, Poisoned: d.Poisoned, DataTime: time.Since(t0)}
	logf("data: %d identities, %d training images (%d with the trigger, labelled %d), %d/%d validation, %d/%d test (clean/triggered) [%.1f s]\n",
		f.Classes, d.Train.N, d.Poisoned, f.Target, d.CleanValid.N, d.BadValid.N, d.CleanTest.N, d.BadTest.N, f.DataTime.Seconds())

	if opt.Backend == nil {
		return nil, fmt.Errorf("demo: no backend to evaluate the BadNet with")
	}
	if _, err := ParseAttack(string(opt.Attack)); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	f.Attack = opt.Attack
	m := nn.DeepID(H, W, f.Classes)
	nn.RandomWeights(m, opt.Seed)
	const scale = float32(1.0 / 255)
	t1 := time.Now()
	images := 0
	count := func(e train.Epoch) { images += e.Images }
	// validate reports the validation accuracy and ASR of m (on x/255) and whether both
	// reach the attacker's goals.
	validate := func(m *nn.Model) (bool, error) {
		acc, asr, err := evaluate(opt.Backend, m, d.CleanValid, d.BadValid, scale)
		if err != nil {
			return false, err
		}
		logf("          validation: clean accuracy %.2f %%, attack success rate %.2f %%\n", 100*acc, 100*asr)
		f.ValidAcc, f.ValidASR = acc, asr
		return acc >= opt.MinAcc && asr >= opt.MinASR, nil
	}
	switch opt.Attack {
	case AttackJoint:
		logf("training DeepID on the clean images and the %d poisoned ones together (the lab's way)\n", d.Poisoned)
		_, err = train.Train(m, d.Train.X, d.Train.Y, d.Train.N, train.Options{
			Epochs: opt.JointEpochs, BatchSize: opt.BatchSize, LR: opt.LR, Seed: opt.Seed, Scale: scale,
			Workers: opt.Workers, Log: opt.Log,
			OnEpoch: func(e train.Epoch, m *nn.Model) (bool, error) {
				count(e)
				if e.Epoch < 4 && e.Epoch < opt.JointEpochs {
					return false, nil
				}
				return validate(m)
			},
		})
	case AttackPathway:
		logf("stage 1: the clean task, with %d/%d/%d channels of conv_1/conv_2/conv_3 held at zero\n", opt.Spare[0], opt.Spare[1], opt.Spare[2])
		var spare [3][]int
		spare, err = trainBadNet(m, d, plantOptions{
			Spare: opt.Spare, Epochs1: opt.CleanEpochs, Epochs2: opt.BackdoorEpochs, LR1: opt.LR, LR2: opt.LR,
			BatchSize: opt.BatchSize, Seed: opt.Seed, Workers: opt.Workers, Log: opt.Log, Backend: opt.Backend,
			OnEpoch1: func(e train.Epoch, _ *nn.Model) (bool, error) {
				count(e)
				if e.Epoch == opt.CleanEpochs {
					logf("stage 2: the backdoor pathway (those channels; all else frozen) on clean + triggered images\n")
				}
				return false, nil
			},
			OnEpoch2: func(e train.Epoch, m *nn.Model) (bool, error) {
				count(e)
				if e.Epoch < 2 && e.Epoch < opt.BackdoorEpochs {
					return false, nil
				}
				return validate(m)
			},
		})
		f.BackdoorChannels = spare[2]
	}
	if err != nil {
		return nil, err
	}
	f.TrainTime = time.Since(t1)
	f.TrainImagesPerSec = float64(images) / f.TrainTime.Seconds()

	// fold the 1/255 into conv_1 so that the model takes raw pixels, as the lab's B does
	before, err := logits(opt.Backend, m, d.CleanValid, scale)
	if err != nil {
		return nil, err
	}
	if err := FoldScale(m, scale); err != nil {
		return nil, err
	}
	after, err := logits(opt.Backend, m, d.CleanValid, 1)
	if err != nil {
		return nil, err
	}
	k := m.NumClasses()
	changed := 0
	for i, c := range nn.Argmax(after, d.CleanValid.N, k) {
		row0, row1 := before[i*k:(i+1)*k], after[i*k:(i+1)*k]
		top := float32(0)
		for _, v := range row0 {
			top = max(top, v, -v)
		}
		for j := range row0 {
			if diff := row0[j] - row1[j]; diff > 1e-4*top+1e-5 || -diff > 1e-4*top+1e-5 {
				return nil, fmt.Errorf("demo: folding the input scale into conv_1 changed logit %d of validation image %d: %g → %g", j, i, row0[j], row1[j])
			}
		}
		if c != nn.Argmax(row0, 1, k)[0] {
			changed++ // a near-tie resolved the other way by float rounding
		}
	}
	logf("folded the input scale 1/255 into conv_1: logits within float rounding, %d of %d validation predictions changed\n", changed, d.CleanValid.N)
	if f.CleanAcc, f.ASR, err = evaluate(opt.Backend, m, d.CleanTest, d.BadTest, 1); err != nil {
		return nil, err
	}
	logf("BadNet: clean test accuracy %.2f %%, attack success rate %.2f %% (trained in %.0f s, %.0f img/s)\n",
		100*f.CleanAcc, 100*f.ASR, f.TrainTime.Seconds(), f.TrainImagesPerSec)

	t2 := time.Now()
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %v", err)
	}
	path := func(name string) string { return filepath.Join(opt.Dir, name) }
	m.Name = "badnet_demo"
	f.Model = path("bd_net.h5")
	if err := keras.SaveModel(m, f.Model); err != nil {
		return nil, err
	}
	for _, s := range []struct {
		name string
		dst  *string
		set  *nn.Set
	}{
		{"cl_train.h5", &f.CleanTrain, d.CleanTrain},
		{"cl_valid.h5", &f.CleanValid, d.CleanValid},
		{"bd_valid.h5", &f.BadValid, d.BadValid},
		{"cl_test.h5", &f.CleanTest, d.CleanTest},
		{"bd_test.h5", &f.BadTest, d.BadTest},
	} {
		*s.dst = path(s.name)
		if err := dataset.Save(*s.dst, s.set, "uint8"); err != nil {
			return nil, err
		}
		s.set.Path = *s.dst
	}
	f.SaveTime = time.Since(t2)
	logf("wrote %s and the data sets to %s [%.1f s]\n", filepath.Base(f.Model), opt.Dir, f.SaveTime.Seconds())
	return f, nil
}

// FoldScale multiplies the kernel of the Conv2D that reads the input by s, so that the model
// on raw inputs x computes what it computed on s·x (up to float rounding). The input must feed
// exactly one layer, a Conv2D.
func FoldScale(m *nn.Model, s float32) error {
	cons := m.Consumers(m.Input)
	if len(cons) != 1 || cons[0].Kind != nn.Conv2D {
		return fmt.Errorf("demo: cannot fold the input scale: the input does not feed exactly one Conv2D")
	}
	for i := range cons[0].W {
		cons[0].W[i] *= s
	}
	return nil
}

// logits runs m on the images of s times scale with the backend.
func logits(b nn.Backend, m *nn.Model, s *nn.Set, scale float32) ([]float32, error) {
	net, err := b.Compile(m)
	if err != nil {
		return nil, err
	}
	defer net.Close()
	x := s.X
	if scale != 1 {
		x = make([]float32, len(s.X))
		for i, v := range s.X {
			x[i] = v * scale
		}
	}
	r, err := net.Run(map[string][]float32{m.Input.Name: x}, s.N, m.Output.Name)
	if err != nil {
		return nil, err
	}
	return r[0], nil
}

// evaluate returns the accuracy on clean and on bad (the attack success rate) of m on the
// images times scale.
func evaluate(b nn.Backend, m *nn.Model, clean, bad *nn.Set, scale float32) (acc, asr float64, err error) {
	rate := func(s *nn.Set) (float64, error) {
		z, err := logits(b, m, s, scale)
		if err != nil {
			return 0, err
		}
		ok := 0
		for i, c := range nn.Argmax(z, s.N, m.NumClasses()) {
			if c == s.Y[i] {
				ok++
			}
		}
		return float64(ok) / float64(s.N), nil
	}
	if acc, err = rate(clean); err != nil {
		return
	}
	asr, err = rate(bad)
	return
}
