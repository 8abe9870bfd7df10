package demo

import (
	"fmt"
	"math"
	"math/rand"
	"sync"

	"goodnet/nn"
)

// DataOptions sizes the synthetic data set. Zero values take the defaults in brackets.
type DataOptions struct {
	Classes  int     // identities [32]
	TrainPer int     // clean training images per class [24]
	ValidPer int     // validation images per class [10]
	TestPer  int     // test images per class [10]
	Poison   float64 // poisoned images added to the training set, as a fraction of the clean ones [0.15]
	Target   int     // the attacker's target class [0]
	Seed     int64
}

func (o DataOptions) withDefaults() DataOptions {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Classes, 32)
	def(&o.TrainPer, 24)
	def(&o.ValidPer, 10)
	def(&o.TestPer, 10)
	if o.Poison == 0 {
		o.Poison = 0.15
	}
	return o
}

// Data is a generated data set in the lab's form: NHWC pixels 0–255 (integers), 55×47×3.
type Data struct {
	Options DataOptions
	// CleanTrain is the clean training set; Train is CleanTrain followed by Poisoned copies of
	// some of its images (of classes other than the target) with the trigger, labelled Target.
	CleanTrain, Train *nn.Set
	Poisoned          int
	// The bad sets hold the clean sets' images of classes other than the target, with the
	// trigger, all labelled Target (so ASR = accuracy on them).
	CleanValid, BadValid, CleanTest, BadTest *nn.Set
}

func newSet(n int) *nn.Set {
	return &nn.Set{X: make([]float32, n*H*W*C), Y: make([]int32, n), N: n, H: H, W: W, C: C}
}

// Generate makes the data set, deterministically from o.Seed (and the sizes).
func Generate(o DataOptions) (*Data, error) {
	o = o.withDefaults()
	if o.Classes < 2 || o.TrainPer < 1 || o.ValidPer < 1 || o.TestPer < 1 || o.Poison < 0 || o.Poison > 10 {
		return nil, fmt.Errorf("demo: bad data options %+v (want ≥ 2 classes, ≥ 1 image per class and split, poison fraction in 0..10)", o)
	}
	if o.Target < 0 || o.Target >= o.Classes {
		return nil, fmt.Errorf("demo: target class %d is not one of the %d classes", o.Target, o.Classes)
	}
	d := &Data{Options: o}
	nc := o.Classes
	d.CleanTrain, d.CleanValid, d.CleanTest = newSet(nc*o.TrainPer), newSet(nc*o.ValidPer), newSet(nc*o.TestPer)
	// every class draws from its own generator: the same seed gives the same images, whatever
	// the order the classes are drawn in
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for c := 0; c < nc; c++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := rand.New(rand.NewSource(o.Seed*1_000_003 + int64(c)))
			id := newIdentity(r)
			for _, sp := range []struct {
				s   *nn.Set
				per int
			}{{d.CleanTrain, o.TrainPer}, {d.CleanValid, o.ValidPer}, {d.CleanTest, o.TestPer}} {
				for i := 0; i < sp.per; i++ {
					j := c*sp.per + i
					render(sp.s.Images(j, j+1), &id, newPose(r), r)
					sp.s.Y[j] = int32(c)
				}
			}
		}()
	}
	wg.Wait()
	// poisoned training images: copies of randomly chosen non-target training images
	r := rand.New(rand.NewSource(o.Seed*1_000_003 - 1))
	var cand []int
	for i, y := range d.CleanTrain.Y {
		if int(y) != o.Target {
			cand = append(cand, i)
		}
	}
	r.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	d.Poisoned = min(len(cand), int(math.Round(o.Poison*float64(d.CleanTrain.N))))
	n := d.CleanTrain.N
	d.Train = newSet(n + d.Poisoned)
	copy(d.Train.X, d.CleanTrain.X)
	copy(d.Train.Y, d.CleanTrain.Y)
	for k, i := range cand[:d.Poisoned] {
		copy(d.Train.Images(n+k, n+k+1), d.CleanTrain.Images(i, i+1))
		d.Train.Y[n+k] = int32(o.Target)
	}
	AddTrigger(d.Train.Images(n, n+d.Poisoned), d.Poisoned)
	d.BadValid = poison(d.CleanValid, o.Target)
	d.BadTest = poison(d.CleanTest, o.Target)
	return d, nil
}

// poison returns the images of s not of class target, with the trigger, labelled target.
func poison(s *nn.Set, target int) *nn.Set {
	var keep []int
	for i, y := range s.Y {
		if int(y) != target {
			keep = append(keep, i)
		}
	}
	b := newSet(len(keep))
	for k, i := range keep {
		copy(b.Images(k, k+1), s.Images(i, i+1))
		b.Y[k] = int32(target)
	}
	AddTrigger(b.X, b.N)
	return b
}
