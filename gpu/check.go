//go:build cuda

package gpu

import (
	"fmt"
	"io"
	"math/rand"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"goodnet/cuda"
	"goodnet/host"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/prune"
)

// CheckOptions configure GPUCheck.
type CheckOptions struct {
	// Fixtures is the directory of the real Keras fixtures (bd_net.h5, bprime_2.h5,
	// cl_mini.h5, bd_mini.h5, expected.json); "" skips those checks and times DeepID with
	// random weights instead of the lab's B.
	Fixtures string
	// Images per timed set (0: 12,830, the size of the lab's test sets).
	Images int
	// Repeats of each timing; the median is reported (0: 3).
	Repeats int
	// NoTimings stops after the self-test.
	NoTimings bool
}

// GPUCheck runs SelfTest, then times the same work on the CPU (host/, all cores) and the GPU
// and prints them side by side: DeepID forward passes (predictions), activation collection
// at pool_3, channel means at pool_3, GoodNet's double inference, and the pruning sweep of
// package prune on a clean and a poisoned set (random labels: only the time means something).
func GPUCheck(w io.Writer, o CheckOptions) error {
	if o.Images <= 0 {
		o.Images = 12830
	}
	if o.Repeats <= 0 {
		o.Repeats = 3
	}
	b, err := Open()
	if err != nil {
		return err
	}
	info := cuda.DeviceInfo()
	free, total, err := cuda.MemInfo()
	if err != nil {
		return err
	}
	cpuB := host.New(0)
	fmt.Fprintf(w, "goodnet gpu-check\n")
	fmt.Fprintf(w, "GPU:    %s\n", info.Name)
	fmt.Fprintf(w, "        compute capability %d.%d, %d SMs, memory %.1f GiB (%.1f GiB free), CUDA driver API %d.%d\n",
		info.Major, info.Minor, info.SMs, float64(total)/(1<<30), float64(free)/(1<<30), info.Driver/1000, info.Driver%1000/10)
	fmt.Fprintf(w, "CPU:    %s (GOMAXPROCS %d)\n\n", cpuB.Describe(), runtime.GOMAXPROCS(0))
	if err := SelfTest(w, o.Fixtures); err != nil {
		return err
	}
	if o.NoTimings {
		return nil
	}
	return timings(w, b, cpuB, o)
}

// median runs f repeats times (after one warm-up run) and returns the median seconds.
func median(repeats int, f func() error) (float64, error) {
	if err := f(); err != nil {
		return 0, err
	}
	var ts []float64
	for i := 0; i < repeats; i++ {
		t0 := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ts = append(ts, time.Since(t0).Seconds())
	}
	sort.Float64s(ts)
	return ts[len(ts)/2], nil
}

func timings(w io.Writer, b *Backend, cpuB *host.Backend, o CheckOptions) error {
	m, bp := nn.DeepID(55, 47, 1283), (*nn.Model)(nil)
	what := "DeepID, random weights"
	if o.Fixtures != "" {
		var err error
		if m, err = keras.LoadModel(filepath.Join(o.Fixtures, "bd_net.h5")); err != nil {
			return err
		}
		if bp, err = keras.LoadModel(filepath.Join(o.Fixtures, "bprime_2.h5")); err != nil {
			return err
		}
		what = "the lab's B (bd_net.h5), B' (bprime_2.h5)"
	} else {
		nn.RandomWeights(m, 3)
	}
	if bp == nil {
		bp = prune.ZeroChannels(m, "conv_3", []int{1, 2, 3, 5, 8, 13, 21, 34, 55})
	}
	n := o.Images
	r := rand.New(rand.NewSource(4))
	mkSet := func() *nn.Set {
		s := &nn.Set{Path: "random", N: n, H: 55, W: 47, C: 3, X: make([]float32, n*55*47*3), Y: make([]int32, n)}
		for i := range s.X {
			s.X[i] = float32(r.Intn(256))
		}
		for i := range s.Y {
			s.Y[i] = int32(r.Intn(1283))
		}
		return s
	}
	clean, bad := mkSet(), mkSet()
	x := clean.X
	feeds := map[string][]float32{m.Input.Name: x}
	cut := m.LastPool()
	if cut == nil {
		return fmt.Errorf("%s has no pooling layer", m.Name)
	}

	gn, err := b.CompileNet(m)
	if err != nil {
		return err
	}
	defer gn.Close()
	gp, err := b.CompileNet(bp)
	if err != nil {
		return err
	}
	defer gp.Close()
	cn, err := cpuB.Compile(m)
	if err != nil {
		return err
	}
	defer cn.Close()
	cp, err := cpuB.Compile(bp)
	if err != nil {
		return err
	}
	defer cp.Close()

	fmt.Fprintf(w, "\ntimings: %s; %d random images of 55×47×3 per set; median of %d runs after a warm-up\n", what, n, o.Repeats)
	fmt.Fprintf(w, "  %-36s %14s %14s %9s\n", "", "CPU img/s", "GPU img/s", "GPU/CPU")
	row := func(name string, images int, cpu, gpu func() error) error {
		tc, err := median(o.Repeats, cpu)
		if err != nil {
			return fmt.Errorf("%s on the CPU: %v", name, err)
		}
		tg, err := median(o.Repeats, gpu)
		if err != nil {
			return fmt.Errorf("%s on the GPU: %v", name, err)
		}
		fmt.Fprintf(w, "  %-36s %14.0f %14.0f %8.1f×\n", name, float64(images)/tc, float64(images)/tg, tc/tg)
		return nil
	}
	if err := row("DeepID forward (predict)", n,
		func() error { _, err := nn.Predict(cn, x, n); return err },
		func() error { _, err := gn.Predict(x, n); return err }); err != nil {
		return err
	}
	if err := row("activations at "+cut.Name+" (to the host)", n,
		func() error { _, err := cn.Run(feeds, n, cut.Name); return err },
		func() error { _, err := gn.Run(feeds, n, cut.Name); return err }); err != nil {
		return err
	}
	if err := row("channel means at "+cut.Name, n,
		func() error {
			p, err := cn.Run(feeds, n, cut.Name)
			if err == nil {
				C := cut.OutShape[2]
				s := make([]float64, C)
				for i, v := range p[0] {
					s[i%C] += float64(v)
				}
			}
			return err
		},
		func() error { _, err := gn.ChannelMeans(feeds, n, cut.Name); return err }); err != nil {
		return err
	}
	if err := row("GoodNet B + B' (double inference)", n,
		func() error {
			pb, err := nn.Predict(cn, x, n)
			if err != nil {
				return err
			}
			pp, err := nn.Predict(cp, x, n)
			for i := range pb {
				if pb[i] != pp[i] {
					pb[i] = int32(m.NumClasses())
				}
			}
			return err
		},
		func() error { _, _, _, err := gn.GoodNet(gp, x, n); return err }); err != nil {
		return err
	}

	// the pruning sweep through the nn.Backend interface (package prune), once per backend
	fmt.Fprintf(w, "  pruning sweep (package prune, all %d channels of %s, clean + poisoned set of %d):\n", cut.Inputs[0].Filters, cut.Inputs[0].Name, n)
	for _, be := range []nn.Backend{cpuB, b} {
		t0 := time.Now()
		res, err := prune.Run(prune.Config{Model: m, CleanValid: clean, BadValid: bad, Backend: be})
		if err != nil {
			return fmt.Errorf("pruning sweep on the %s: %v", be.Name(), err)
		}
		fmt.Fprintf(w, "    %-4s %6.2f s in all (features %.2f s, sweep %.2f s, method %s)\n",
			be.Name(), time.Since(t0).Seconds(), res.Timings["features"], res.Timings["sweep"], res.Method)
	}
	return nil
}
