package nn

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Backend is a compute engine: host.Backend (CPU) or gpu.Backend (CUDA).
type Backend interface {
	// Name is "cpu" or "gpu".
	Name() string
	// Describe says what it runs on, in one line (CPU model and cores; GPU name and driver).
	Describe() string
	// Compile prepares a model for this backend (for the GPU: uploads its weights). The Net
	// keeps no reference to m's weights after Compile returns: changing them later (pruning)
	// needs a new Compile.
	Compile(m *Model) (Net, error)
}

// Net is a model compiled for a backend.
type Net interface {
	Model() *Model
	// Run evaluates the graph on n samples and returns the outputs of the layers named in
	// outs, each n × OutShape.Size() values. feeds gives the outputs of some layers for all n
	// samples: the input layer's (the images), or any other layer's (the pooled features of
	// the pruning sweep); only the layers that outs need and that are not fed are computed.
	// Softmax is not applied (see the package doc).
	Run(feeds map[string][]float32, n int, outs ...string) ([][]float32, error)
	// Close frees what Compile allocated.
	Close() error
}

// Predictor is implemented by nets that compute predictions more cheaply than Run + Argmax
// (the GPU keeps the logits on the device).
type Predictor interface {
	Predict(x []float32, n int) ([]int32, error)
}

// CheckFeeds validates the arguments of Net.Run against the model and returns the layers
// named in outs. Backends call it first, so that every backend rejects bad calls the same way.
func CheckFeeds(m *Model, feeds map[string][]float32, n int, outs []string) ([]*Layer, error) {
	if n < 0 {
		return nil, fmt.Errorf("negative sample count %d", n)
	}
	for name, v := range feeds {
		l := m.Layer(name)
		if l == nil {
			return nil, fmt.Errorf("fed layer %q does not exist", name)
		}
		if want := n * l.OutShape.Size(); len(v) != want {
			return nil, fmt.Errorf("feed for layer %q has %d values, want %d × %v = %d", name, len(v), n, l.OutShape, want)
		}
	}
	if len(outs) == 0 {
		return nil, fmt.Errorf("no output layer requested")
	}
	ls := make([]*Layer, len(outs))
	for i, o := range outs {
		ls[i] = m.Layer(o)
		if ls[i] == nil {
			return nil, fmt.Errorf("output layer %q does not exist", o)
		}
	}
	// every needed layer must be fed or computable from feeds
	var need func(l *Layer) error
	seen := map[*Layer]bool{}
	need = func(l *Layer) error {
		if seen[l] {
			return nil
		}
		seen[l] = true
		if _, ok := feeds[l.Name]; ok {
			return nil
		}
		if l.Kind == Input {
			return fmt.Errorf("layer %q is needed but not fed", l.Name)
		}
		for _, in := range l.Inputs {
			if err := need(in); err != nil {
				return err
			}
		}
		return nil
	}
	for _, l := range ls {
		if err := need(l); err != nil {
			return nil, err
		}
	}
	return ls, nil
}

// Plan lists, in topological order, the layers a Run must compute for outs given the fed
// layers (fed layers themselves are not listed).
func Plan(m *Model, fed map[string][]float32, outs []*Layer) []*Layer {
	needed := map[*Layer]bool{}
	var mark func(l *Layer)
	mark = func(l *Layer) {
		if needed[l] {
			return
		}
		needed[l] = true
		if _, ok := fed[l.Name]; ok {
			return
		}
		for _, in := range l.Inputs {
			mark(in)
		}
	}
	for _, o := range outs {
		mark(o)
	}
	var plan []*Layer
	for _, l := range m.Layers {
		if _, ok := fed[l.Name]; ok || !needed[l] {
			continue
		}
		plan = append(plan, l)
	}
	return plan
}

// Argmax returns, for each of n rows of k values, the index of the largest (the first one on
// ties, as numpy's argmax).
func Argmax(v []float32, n, k int) []int32 {
	out := make([]int32, n)
	for i := 0; i < n; i++ {
		row := v[i*k : (i+1)*k]
		best := 0
		for j := 1; j < k; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		out[i] = int32(best)
	}
	return out
}

// PredictChunk is how many samples Predict runs at once (bounds the logits held in memory).
const PredictChunk = 4096

// Predict returns the predicted class of each of the n images in x.
func Predict(net Net, x []float32, n int) ([]int32, error) {
	if p, ok := net.(Predictor); ok {
		return p.Predict(x, n)
	}
	m := net.Model()
	in := m.InputShape().Size()
	if len(x) != n*in {
		return nil, fmt.Errorf("%d values for %d images of shape %v", len(x), n, m.InputShape())
	}
	k := m.NumClasses()
	out := make([]int32, 0, n)
	for lo := 0; lo < n; lo += PredictChunk {
		hi := min(lo+PredictChunk, n)
		r, err := net.Run(map[string][]float32{m.Input.Name: x[lo*in : hi*in]}, hi-lo, m.Output.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, Argmax(r[0], hi-lo, k)...)
	}
	return out, nil
}

// The backend registry: host/ registers "cpu", gpu/ (cuda builds) registers "gpu".
var (
	regMu    sync.Mutex
	registry = map[string]func() (Backend, error){}
)

// Register makes a backend available to Open under name.
func Register(name string, open func() (Backend, error)) {
	regMu.Lock()
	defer regMu.Unlock()
	registry[name] = open
}

// Backends lists the registered backend names.
func Backends() []string {
	regMu.Lock()
	defer regMu.Unlock()
	var names []string
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open returns the backend for a --device value: "cpu", "gpu", or "auto" (the GPU when one is
// registered and opens, with the CPU for the models it does not run (Fallback); else the CPU).
func Open(device string) (Backend, error) {
	regMu.Lock()
	gpu, cpu := registry["gpu"], registry["cpu"]
	regMu.Unlock()
	switch strings.ToLower(device) {
	case "auto", "":
		if cpu == nil {
			return nil, fmt.Errorf("no CPU backend registered")
		}
		if gpu != nil {
			if b, err := gpu(); err == nil {
				c, err := cpu()
				if err != nil {
					return nil, err
				}
				return &Fallback{First: b, Second: c}, nil
			}
		}
		return cpu()
	case "cpu":
		if cpu == nil {
			return nil, fmt.Errorf("no CPU backend registered")
		}
		return cpu()
	case "gpu":
		if gpu == nil {
			return nil, fmt.Errorf("--device gpu: %s", NoGPUReason())
		}
		b, err := gpu()
		if err != nil {
			return nil, fmt.Errorf("--device gpu: %v", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown device %q (want auto, cpu or gpu)", device)
}

// noGPU is why no GPU backend is registered; set by the CUDA hand-over (see internal/devprobe).
var noGPU = "this goodnet was built without CUDA (build it with `make cuda` for the GPU)"

// SetNoGPUReason records why the GPU is unusable, for the error of --device gpu.
func SetNoGPUReason(s string) { noGPU = s }

// NoGPUReason says why no GPU backend is available.
func NoGPUReason() string { return noGPU }
