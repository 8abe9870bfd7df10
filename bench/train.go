package bench

import (
	"fmt"
	"io"
	"math/rand"
	"slices"
	"strings"

	"goodnet/finetune"
	"goodnet/nn"
	"goodnet/train"
)

// FineTune is the name of the training row (Row.Name).
const FineTune = "finetune"

// TrainImages is how many images one timed fine-tuning run trains on (one epoch).
const TrainImages = 1024

// fineTuneRow times fine-tuning B' as `goodnet finetune` does — finetune.Run with its
// defaults: Adam at the default learning rate on a cosine schedule, weight decay, random flips
// and shifts, minibatches of 32, the pruned channels held at zero — for one epoch over the
// first TrainImages images of the clean validation set per run (train.History.Time: the
// epoch itself, without preparing the run). Training runs on the CPU whatever the device.
func fineTuneRow(o Options, b, bp *nn.Model, set *nn.Set) (Row, error) {
	n := min(TrainImages, set.N)
	x := set.X[:n*set.Shape().Size()]
	pruned, err := finetune.PrunedChannels(b, bp)
	if err != nil {
		return Row{}, fmt.Errorf("fine-tuning: %w", err)
	}
	var held []string
	for name, chans := range pruned {
		held = append(held, fmt.Sprintf("%d of %s", len(chans), name))
	}
	slices.Sort(held)
	var imgs int
	var recipe string
	st, err := measureTraining(o.Repeats, func() (int, float64, error) {
		r, err := finetune.Run(finetune.Config{B: b, Bprime: bp, X: x, Y: set.Y[:n], N: n, Epochs: 1})
		if err != nil {
			return 0, 0, err
		}
		imgs = r.History.Images
		recipe = fmt.Sprintf("Adam %g, batch %d", r.LR, finetune.DefaultBatchSize)
		if r.Augment.Flip || r.Augment.Shift > 0 {
			recipe += fmt.Sprintf(", flips and ±%d px shifts", r.Augment.Shift)
		}
		return r.History.Images, r.History.Time.Seconds(), nil
	})
	if err != nil {
		return Row{}, fmt.Errorf("fine-tuning: %w", err)
	}
	what := fmt.Sprintf("fine-tune B' (%s)", recipe)
	if len(held) > 0 {
		what = fmt.Sprintf("fine-tune B' (%s, %s held at 0)", recipe, strings.Join(held, ", "))
	}
	logf(o.Log, "cpu: %s: median %.3f s (%.3f–%.3f)", what, st.Median, st.Min, st.Max)
	return Row{Name: FineTune, What: what, Device: "cpu", Images: imgs, Seconds: st,
		ImagesPerS: float64(imgs) / st.Median}, nil
}

// measureTraining runs f once to warm up, then repeats times; f returns the images it
// trained on and its training time (train.History.Time: without building the plan).
func measureTraining(repeats int, f func() (int, float64, error)) (Stat, error) {
	if _, _, err := f(); err != nil {
		return Stat{}, err
	}
	var ts []float64
	for i := 0; i < repeats; i++ {
		_, s, err := f()
		if err != nil {
			return Stat{}, err
		}
		ts = append(ts, s)
	}
	return newStat(ts), nil
}

// TrainSpeedOptions configure TrainSpeed.
type TrainSpeedOptions struct {
	Classes int       // output classes of DeepID [1283]
	Images  int       // images per timed epoch [TrainImages]
	Batch   int       // minibatch size [32]
	Workers int       // train.Options.Workers [GOMAXPROCS, at most 8]
	Repeats int       // timed epochs after a warm-up [5]
	Log     io.Writer // a line per epoch
}

// TrainSpeed measures what scripts/anchor/train_deepid.py measures for PyTorch: DeepID
// (55×47×3, Classes outputs, random weights) trained with Adam (lr 1e-3) on random images of
// 0–255 pixels scaled by 1/255 and random labels; one warm-up epoch, then Repeats timed
// epochs. It returns the images/s of each timed epoch.
func TrainSpeed(o TrainSpeedOptions) ([]float64, error) {
	if o.Classes <= 0 {
		o.Classes = 1283
	}
	if o.Images <= 0 {
		o.Images = TrainImages
	}
	if o.Batch <= 0 {
		o.Batch = 32
	}
	if o.Repeats <= 0 {
		o.Repeats = 5
	}
	m := nn.DeepID(55, 47, o.Classes)
	nn.RandomWeights(m, 1)
	r := rand.New(rand.NewSource(1))
	x := make([]float32, o.Images*m.InputShape().Size())
	for i := range x {
		x[i] = 255 * r.Float32()
	}
	y := make([]int32, o.Images)
	for i := range y {
		y[i] = int32(r.Intn(o.Classes))
	}
	var rates []float64
	for e := 0; e <= o.Repeats; e++ {
		h, err := train.Train(m, x, y, o.Images, train.Options{Epochs: 1, BatchSize: o.Batch, LR: 1e-3, Seed: int64(e),
			Scale: 1.0 / 255, Workers: o.Workers})
		if err != nil {
			return nil, err
		}
		if e == 0 {
			continue // warm-up
		}
		rates = append(rates, h.ImagesPerSec())
		if o.Log != nil {
			fmt.Fprintf(o.Log, "goodnet epoch %d/%d: %.0f img/s (loss %.3f)\n", e, o.Repeats, h.ImagesPerSec(), h.Epochs[0].Loss)
		}
	}
	return rates, nil
}
