package train

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand"
	"runtime"
	"time"

	"goodnet/nn"
)

// ErrCUDABuild was returned by every function of the cuda build while training ran on
// gorgonia's CPU engine. The native engine runs in both builds: nothing returns it any more.
//
// Deprecated: callers may drop their check for it.
var ErrCUDABuild = errors.New("training runs in the CPU build (goodnet-cpu)")

// Options configures Train. Zero values take the defaults in brackets.
type Options struct {
	Epochs    int     // passes over the data [10]
	BatchSize int     // minibatch size [32]; the remainder of an epoch (n mod BatchSize) is skipped, a different one each epoch
	LR        float64 // Adam learning rate [1e-3] (β1 0.9, β2 0.999, ε 1e-8)
	Seed      int64   // seeds the shuffling
	// L2 adds L2·w to the gradient of every weight (coupled weight decay, as Adam's L2
	// regularisation) [0: none].
	L2 float64
	// Scale multiplies the inputs before the first layer [1]; e.g. 1/255 to train on 0–1
	// pixels (the trained model then expects scaled inputs).
	Scale float32
	// Workers is how many goroutines share each minibatch, in parallel [GOMAXPROCS, at most 8]:
	// the batch is cut into blocks of at most 16 images that the workers take as they come
	// free (batch 32 on 2 workers: one block each). It does not change the result: the same
	// Seed gives the same weights bit for bit, whatever Workers is.
	Workers int
	// Log, if set, gets one line per epoch (loss, train accuracy, images/s).
	Log io.Writer
	// Mask[layer][c] = true holds output channel c of a Conv2D (or unit c of a Dense) at zero:
	// its kernel slice and bias are zeroed before training and after every step, and their
	// gradients are dropped (fine-tuning after pruning). Slices must have the layer's length.
	Mask map[string][]bool
	// Freeze[layer] marks weights of a Conv2D or Dense layer that training leaves as they are:
	// Kernel in the layer's Keras layout ((kh, kw, cin, cout) or (in, out)), Bias per output;
	// a nil slice freezes nothing of that tensor. (Mask wins over Freeze.)
	Freeze map[string]Frozen
	// WeightDecay shrinks every trained weight by lr·WeightDecay·w at each step, apart from
	// Adam's moments (decoupled weight decay, AdamW: Loshchilov & Hutter 2019) [0: none].
	// Weights that no training input exercises decay towards 0.
	WeightDecay float64
	// Schedule shapes the learning rate over the run's steps [Constant].
	Schedule Schedule
	// Augment transforms each training image before its step (after Scale) [none].
	Augment Augment
	// OnEpoch, if set, is called after each epoch with the model's weights updated to the
	// current state; returning stop = true ends training early, an error aborts it.
	OnEpoch func(e Epoch, m *nn.Model) (stop bool, err error)
}

// Frozen flags the weights of one layer that are not trained (see Options.Freeze).
type Frozen struct {
	Kernel, Bias []bool
}

// Epoch is what one pass over the data measured. Loss and Acc are averages over its
// minibatches, computed on the weights as they were for each batch (as Keras reports them).
type Epoch struct {
	Epoch  int // from 1
	Loss   float64
	Acc    float64
	Images int
	Time   time.Duration
}

// History is the record of a Train call.
type History struct {
	Epochs []Epoch
	Images int           // images processed in all
	Time   time.Duration // training time, without graph building and callbacks
}

// ImagesPerSec is the training throughput.
func (h *History) ImagesPerSec() float64 {
	if h.Time <= 0 {
		return 0
	}
	return float64(h.Images) / h.Time.Seconds()
}

func (o Options) withDefaults() Options {
	if o.Epochs == 0 {
		o.Epochs = 10
	}
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.LR == 0 {
		o.LR = 1e-3
	}
	if o.Workers == 0 {
		o.Workers = min(runtime.GOMAXPROCS(0), 8)
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	return o
}

func (o Options) check() error {
	if o.Epochs < 0 || o.BatchSize < 0 || o.LR < 0 || o.Workers < 0 || o.L2 < 0 || o.WeightDecay < 0 {
		return fmt.Errorf("train: epochs %d, batch size %d, learning rate %g, workers %d, L2 %g and weight decay %g must not be negative", o.Epochs, o.BatchSize, o.LR, o.Workers, o.L2, o.WeightDecay)
	}
	if o.Schedule != Constant && o.Schedule != Cosine {
		return fmt.Errorf("train: unknown learning-rate schedule %d", int(o.Schedule))
	}
	if o.Augment.Shift < 0 {
		return fmt.Errorf("train: augmentation shift %d must not be negative", o.Augment.Shift)
	}
	if !(o.Augment.Erase >= 0 && o.Augment.Erase <= 1) {
		return fmt.Errorf("train: erasing probability %g must be in [0, 1]", o.Augment.Erase)
	}
	return nil
}

// Schedule is how the learning rate changes over a run.
type Schedule int

const (
	// Constant keeps Options.LR for every step.
	Constant Schedule = iota
	// Cosine decays it from Options.LR at the first step to 0 after the last, as
	// lr·(1 + cos(π·s/S))/2 at step s of S (SGDR without restarts, Loshchilov & Hutter 2017).
	Cosine
)

func (s Schedule) String() string {
	switch s {
	case Constant:
		return "constant"
	case Cosine:
		return "cosine"
	}
	return fmt.Sprintf("Schedule(%d)", int(s))
}

// lrAt is the learning rate of step s (from 0) of total.
func (o Options) lrAt(s, total int) float64 {
	if o.Schedule == Cosine && total > 0 {
		return o.LR * (1 + math.Cos(math.Pi*float64(s)/float64(total))) / 2
	}
	return o.LR
}

// Augment is the random transformation each training image gets before its step, drawn
// anew every time the image is used (the draws come from the run's seed in sample order, so
// they do not depend on Workers). Image inputs only.
type Augment struct {
	// Flip mirrors the image left–right with probability 1/2.
	Flip bool
	// Shift translates it by dy, dx drawn uniformly from [−Shift, Shift] pixels; pixels shifted
	// in are 0 (as a zero-padded random crop).
	Shift int
	// Erase is the probability of random erasing (Zhong et al. 2020, torchvision's defaults):
	// a rectangle covering 2–33 % of the image, of aspect ratio 0.3–3.3 (log-uniform), set to
	// 0 after the flip and shift. It teaches the net to see a face past an occluding patch.
	Erase float64
}

// On reports whether any transformation is set.
func (a Augment) On() bool { return a.Flip || a.Shift > 0 || a.Erase > 0 }

// draw picks one image's transformation.
func (a Augment) draw(r *rand.Rand) (t xform) {
	if a.Flip {
		t.flip = r.Intn(2) == 1
	}
	if a.Shift > 0 {
		t.dy = r.Intn(2*a.Shift+1) - a.Shift
		t.dx = r.Intn(2*a.Shift+1) - a.Shift
	}
	if a.Erase > 0 && r.Float64() < a.Erase {
		// fractions of the image; apply scales them to its size
		t.eraseArea = 0.02 + (0.33-0.02)*r.Float64()
		t.eraseLogRatio = math.Log(0.3) + 2*math.Log(1/0.3)*r.Float64()
		t.eraseY, t.eraseX = r.Float64(), r.Float64()
	}
	return t
}

// xform is one image's drawn transformation: out(i, j) = in(i − dy, j' − dx) with j' the
// mirrored column when flip is set; 0 outside the image.
type xform struct {
	flip   bool
	dy, dx int
	// a rectangle of eraseArea × the image's area and aspect ratio (h/w) exp(eraseLogRatio),
	// placed at (eraseY, eraseX) ∈ [0, 1)² of the positions where it fits; none when
	// eraseArea is 0
	eraseArea, eraseLogRatio, eraseY, eraseX float64
}

// rect is the erased rectangle [y0, y0+h) × [x0, x0+w) of an H×W image (h or w 0: none).
func (t xform) rect(H, W int) (y0, x0, h, w int) {
	if t.eraseArea == 0 {
		return 0, 0, 0, 0
	}
	a := t.eraseArea * float64(H*W)
	ratio := math.Exp(t.eraseLogRatio)
	h = min(H, max(1, int(math.Round(math.Sqrt(a*ratio)))))
	w = min(W, max(1, int(math.Round(math.Sqrt(a/ratio)))))
	y0 = int(t.eraseY * float64(H-h+1))
	x0 = int(t.eraseX * float64(W-w+1))
	return y0, x0, h, w
}

// apply writes scale·(t applied to src) into dst, both one H×W×C image (NHWC).
func (t xform) apply(dst, src []float32, H, W, C int, scale float32) {
	for i := 0; i < H; i++ {
		si := i - t.dy
		row := dst[i*W*C : (i+1)*W*C]
		if si < 0 || si >= H {
			clear(row)
			continue
		}
		for j := 0; j < W; j++ {
			sj := j - t.dx
			if sj < 0 || sj >= W {
				clear(row[j*C : (j+1)*C])
				continue
			}
			if t.flip {
				sj = W - 1 - sj
			}
			s := src[(si*W+sj)*C : (si*W+sj+1)*C]
			for c, v := range s {
				row[j*C+c] = v * scale
			}
		}
	}
	if y0, x0, h, w := t.rect(H, W); h > 0 {
		for i := y0; i < y0+h; i++ {
			clear(dst[(i*W+x0)*C : (i*W+x0+w)*C])
		}
	}
}
