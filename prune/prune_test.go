package prune

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"goodnet/dataset"
	"goodnet/host"
	"goodnet/internal/fixtures"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/nn/ref"
)

// bruteRef is the seed's method in float64, written independently of the sweep: means of the
// cut over the clean validation set, a stable ascending sort, then for each step the whole
// pruned net on every image. Pruning is the definition itself, not a weight edit: the pruned
// channels of layer mask's output are set to zero for every reader (mask: the pruned conv, or
// the BatchNormalization after it, or any activation).
type bruteRef struct {
	order []int
	means []float64
	steps [][4][]int32 // predictions per step (step 0: B) and set
}

// maskedPredict runs m in float64 on x with channels zero of layer mask's output set to 0.
func maskedPredict(t *testing.T, m *nn.Model, mask string, zero map[int]bool, x []float64, n int) []int32 {
	t.Helper()
	act := map[*nn.Layer][]float64{m.Input: x}
	for _, l := range m.Layers[1:] {
		var xs [][]float64
		for _, in := range l.Inputs {
			xs = append(xs, act[in])
		}
		out := ref.Layer(l, xs, n)
		if l.Name == mask {
			c := l.OutShape[len(l.OutShape)-1]
			for i := range out {
				if zero[i%c] {
					out[i] = 0
				}
			}
		}
		act[l] = out
	}
	k := m.NumClasses()
	return nn.Argmax(toF32(act[m.Output]), n, k)
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func runBruteRef(t *testing.T, m *nn.Model, mask, cut string, sets [4]*nn.Set, steps int) *bruteRef {
	t.Helper()
	x := ref.Widen(sets[0].X)
	out, err := ref.Run(m, map[string][]float64{m.Input.Name: x}, sets[0].N, cut)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Layer(cut).OutShape[len(m.Layer(cut).OutShape)-1]
	means := make([]float64, c)
	for i, v := range out[0] {
		means[i%c] += v
	}
	for j := range means {
		means[j] /= float64(len(out[0]) / c)
	}
	order := make([]int, c)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return means[order[i]] < means[order[j]] })
	r := &bruteRef{order: order, means: means}
	zero := map[int]bool{}
	for k := 0; k <= steps; k++ {
		if k > 0 {
			zero[order[k-1]] = true
		}
		var p [4][]int32
		for i, s := range sets {
			if s != nil {
				p[i] = maskedPredict(t, m, mask, zero, ref.Widen(s.X), s.N)
			}
		}
		r.steps = append(r.steps, p)
	}
	return r
}

func pct(p, y []int32) float64 {
	if p == nil {
		return math.NaN()
	}
	c := 0
	for i := range p {
		if p[i] == y[i] {
			c++
		}
	}
	return 100 * float64(c) / float64(len(p))
}

// checkAgainst compares a Result with the float64 brute force: order, every step's metrics,
// the saved steps, channels and models.
func checkAgainst(t *testing.T, res *Result, want *bruteRef, cfg Config) {
	t.Helper()
	if fmt.Sprint(res.Order) != fmt.Sprint(want.order) {
		t.Fatalf("%s: order\n got %v\nwant %v", res.Method, res.Order, want.order)
	}
	for j := range want.means {
		if d := math.Abs(res.MeanActivation[j] - want.means[j]); d > 1e-4*(math.Abs(want.means[j])+1e-3) {
			t.Errorf("%s: mean of channel %d: %g, want %g", res.Method, j, res.MeanActivation[j], want.means[j])
		}
	}
	sets := cfg.sets()
	eq := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
	if len(res.Steps) != len(want.steps) {
		t.Fatalf("%s: %d steps, want %d", res.Method, len(res.Steps), len(want.steps))
	}
	var saved []int
	base := pct(want.steps[0][0], sets[0].Y)
	pending := append([]float64(nil), cfg.Thresholds...)
	sort.Float64s(pending)
	for k, s := range res.Steps {
		var w [4]float64
		for i := range w {
			w[i] = math.NaN()
			if sets[i] != nil {
				w[i] = pct(want.steps[k][i], sets[i].Y)
			}
		}
		got := [4]float64{s.CleanValid, s.ASRValid, s.CleanTest, s.ASRTest}
		for i := range w {
			if !eq(got[i], w[i]) {
				t.Errorf("%s: step %d (channel %d) set %d: %.4f %%, brute force %.4f %%", res.Method, k, s.Channel, i, got[i], w[i])
			}
		}
		if k > 0 && s.Channel != want.order[k-1] {
			t.Errorf("%s: step %d pruned channel %d, want %d", res.Method, k, s.Channel, want.order[k-1])
		}
		for k > 0 && len(pending) > 0 && base-w[0] >= pending[0]-1e-9 { // as Run compares
			saved = append(saved, k)
			pending = pending[1:]
		}
	}
	if len(saved) != len(res.Saved) {
		t.Fatalf("%s: saved %d B', brute force %d (%v)", res.Method, len(res.Saved), len(saved), saved)
	}
	for i, s := range res.Saved {
		if s.Step != saved[i] {
			t.Errorf("%s: B' at %g %% saved at step %d, brute force %d", res.Method, s.Threshold, s.Step, saved[i])
		}
		chans := append([]int(nil), want.order[:s.Step]...)
		sort.Ints(chans)
		if fmt.Sprint(chans) != fmt.Sprint(s.PrunedChannels) {
			t.Errorf("%s: B' at %g %%: channels %v, want %v", res.Method, s.Threshold, s.PrunedChannels, chans)
		}
		// the saved model is B with exactly those channels zeroed (for a conv: its kernel)
		l, b := s.Model.Layer(res.Layer), cfg.Model.Layer(res.Layer)
		zero := map[int]bool{}
		for _, c := range chans {
			zero[c] = true
		}
		if l.Kind == nn.Conv2D {
			for j, v := range l.W {
				if (zero[j%l.Filters] && v != 0) || (!zero[j%l.Filters] && v != b.W[j]) {
					t.Fatalf("%s: B' at %g %%: kernel value %d is %g (B: %g)", res.Method, s.Threshold, j, v, b.W[j])
				}
			}
		}
		// and its weights compute the definition's predictions
		for i, set := range sets {
			if set == nil {
				continue
			}
			cls, _, err := ref.Predict(s.Model, ref.Widen(set.X), set.N)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(cls) != fmt.Sprint(want.steps[s.Step][i]) {
				t.Errorf("%s: B' at %g %% predicts other classes on set %d than the pruning it stands for", res.Method, s.Threshold, i)
			}
		}
		// GoodNet on the test sets (or validation) from B's and B''s brute-force predictions
		ci, pi := 2, 3
		if sets[2] == nil {
			ci, pi = 0, 1
		}
		n := int32(cfg.Model.NumClasses())
		g := func(set int) []int32 {
			out := make([]int32, len(want.steps[0][set]))
			for j, a := range want.steps[0][set] {
				out[j] = a
				if a != want.steps[s.Step][set][j] {
					out[j] = n
				}
			}
			return out
		}
		if got, w := s.GoodNet.CleanAcc, pct(g(ci), sets[ci].Y); got != w {
			t.Errorf("%s: GoodNet clean accuracy %g, want %g", res.Method, got, w)
		}
		if got, w := s.GoodNet.ASR, pct(g(pi), sets[pi].Y); got != w {
			t.Errorf("%s: GoodNet ASR %g, want %g", res.Method, got, w)
		}
	}
}

func loadSet(t *testing.T, name string) *nn.Set {
	t.Helper()
	s, err := dataset.Load(fixtures.Path(t, name), 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSweepFixturesMatchesBruteForce(t *testing.T) {
	m, err := keras.LoadModel(fixtures.Path(t, "bd_net.h5"))
	if err != nil {
		t.Fatal(err)
	}
	cl, bd := loadSet(t, "cl_mini.h5"), loadSet(t, "bd_mini.h5")
	sets := [4]*nn.Set{cl, bd, cl, bd}
	want := runBruteRef(t, m, "conv_3", "pool_3", sets, 60)
	for _, method := range []Method{Incremental, HeadOnly, Brute} {
		cfg := Config{Model: m, CleanValid: cl, BadValid: bd, CleanTest: cl, BadTest: bd, Backend: host.New(0), Method: method, Thresholds: []float64{2, 4, 10, 50}}
		res, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Method != method.String() || res.Layer != "conv_3" || res.Cut != "pool_3" || res.Channels != 60 {
			t.Fatalf("result %s %s %s %d", res.Method, res.Layer, res.Cut, res.Channels)
		}
		checkAgainst(t, res, want, cfg)
	}
}

// randomSets makes n random images and labels them: clean sets with B's own (float64)
// predictions where keep, else random classes; poisoned sets with class 0.
func randomSets(t *testing.T, m *nn.Model, r *rand.Rand, n int) [4]*nn.Set {
	var sets [4]*nn.Set
	s := m.InputShape()
	for i := range sets {
		x := make([]float32, n*s.Size())
		for j := range x {
			x[j] = float32(r.Float64())
		}
		y := make([]int32, n)
		if i%2 == 0 {
			cls, _, err := ref.Predict(m, ref.Widen(x), n)
			if err != nil {
				t.Fatal(err)
			}
			for j := range y {
				y[j] = cls[j]
				if r.Intn(5) == 0 {
					y[j] = int32(r.Intn(m.NumClasses()))
				}
			}
		}
		sets[i] = &nn.Set{Path: fmt.Sprintf("set%d", i), X: x, Y: y, N: n, H: s[0], W: s[1], C: s[2]}
	}
	return sets
}

// smallNet is a DeepID-like net on small inputs: conv → pool → conv(C) → pool → [flatten →
// dense] + [conv → flatten → dense] → add → relu → dense; dead gives channels of the pruned
// conv a very negative bias (all-zero activations: ties in the ordering).
func smallNet(r *rand.Rand, head string, dead int) *nn.Model {
	conv := func(name, in string, f, k, s int, pad nn.Padding) *nn.Layer {
		return &nn.Layer{Name: name, Kind: nn.Conv2D, InputNames: []string{in}, Size: [2]int{k, k}, Strides: [2]int{s, s}, Filters: f, Act: nn.ReLU, UseBias: true, Padding: pad}
	}
	pool := func(name, in string, k, s int, pad nn.Padding) *nn.Layer {
		return &nn.Layer{Name: name, Kind: nn.MaxPool2D, InputNames: []string{in}, Size: [2]int{k, k}, Strides: [2]int{s, s}, Padding: pad}
	}
	dense := func(name, in string, u int, a nn.Activation) *nn.Layer {
		return &nn.Layer{Name: name, Kind: nn.Dense, InputNames: []string{in}, Units: u, Act: a, UseBias: true}
	}
	ls := []*nn.Layer{
		{Name: "in", Kind: nn.Input, InShape: nn.Shape{17, 15, 3}},
		conv("c1", "in", 6, 3, 1, nn.Valid), pool("p1", "c1", 2, 2, nn.Valid),
		conv("c2", "p1", 12, 3, 1, nn.Same), pool("p2", "c2", 3, 2, nn.Same),
	}
	switch head {
	case "deepid": // readers: a Dense after Flatten and a strided same-padded Conv2D
		ls = append(ls, &nn.Layer{Name: "f1", Kind: nn.Flatten, InputNames: []string{"p2"}},
			&nn.Layer{Name: "d0", Kind: nn.Dropout, InputNames: []string{"f1"}, Rate: 0.5},
			dense("fc1", "d0", 24, nn.Linear), conv("c3", "p2", 10, 2, 2, nn.Same),
			&nn.Layer{Name: "f2", Kind: nn.Flatten, InputNames: []string{"c3"}}, dense("fc2", "f2", 24, nn.ReLU),
			&nn.Layer{Name: "add", Kind: nn.Add, InputNames: []string{"fc1", "fc2"}},
			&nn.Layer{Name: "act", Kind: nn.Act, InputNames: []string{"add"}, Act: nn.ReLU},
			dense("out", "act", 9, nn.Softmax))
	case "pool": // a MaxPool reads the cut: head-only sweep
		ls = append(ls, pool("p3", "p2", 2, 1, nn.Valid), &nn.Layer{Name: "f1", Kind: nn.Flatten, InputNames: []string{"p3"}},
			dense("out", "f1", 9, nn.Softmax))
	case "skip": // the head also reads a layer before the cut: brute force
		ls = append(ls, &nn.Layer{Name: "f1", Kind: nn.Flatten, InputNames: []string{"p2"}}, dense("fc1", "f1", 16, nn.ReLU),
			&nn.Layer{Name: "f0", Kind: nn.Flatten, InputNames: []string{"p1"}}, dense("fc0", "f0", 16, nn.ReLU),
			&nn.Layer{Name: "add", Kind: nn.Add, InputNames: []string{"fc1", "fc0"}}, dense("out", "add", 9, nn.Softmax))
	}
	m, err := nn.New("small_"+head, ls, "in", "out")
	if err != nil {
		panic(err)
	}
	nn.RandomWeights(m, r.Int63())
	c2 := m.Layer("c2")
	for c := 0; c < dead; c++ {
		c2.B[r.Intn(c2.Filters)] = -100
	}
	return m
}

func TestSweepRandomNetsMatchBruteForce(t *testing.T) {
	for _, tc := range []struct {
		head   string
		method Method
	}{{"deepid", Incremental}, {"pool", HeadOnly}, {"skip", Brute}} {
		for seed := int64(1); seed <= 3; seed++ {
			r := rand.New(rand.NewSource(seed))
			m := smallNet(r, tc.head, 3)
			sets := randomSets(t, m, r, 37)
			want := runBruteRef(t, m, "c2", "p2", sets, 12)
			for _, method := range []Method{Incremental, HeadOnly, Brute} {
				cfg := Config{Model: m, Layer: "c2", CleanValid: sets[0], BadValid: sets[1], CleanTest: sets[2], BadTest: sets[3],
					Backend: host.New(0), Method: method, Thresholds: []float64{2, 5, 10, 30}}
				if seed == 2 {
					cfg.CleanTest, cfg.BadTest = nil, nil // GoodNet falls back to the validation sets
					want2 := *want
					want2.steps = nil
					for _, p := range want.steps {
						want2.steps = append(want2.steps, [4][]int32{p[0], p[1]})
					}
					res, err := Run(cfg)
					if err != nil {
						t.Fatal(err)
					}
					checkAgainst(t, res, &want2, cfg)
					continue
				}
				res, err := Run(cfg)
				if err != nil {
					t.Fatal(err)
				}
				// the sweep uses the fastest method the graph allows
				if method == Incremental && res.Method != tc.method.String() {
					t.Errorf("%s head: method %s, want %s", tc.head, res.Method, tc.method)
				}
				checkAgainst(t, res, want, cfg)
			}
		}
	}
}

func TestMaxStepsAndUnreached(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	m := smallNet(r, "deepid", 0)
	sets := randomSets(t, m, r, 20)
	res, err := Run(Config{Model: m, CleanValid: sets[0], BadValid: sets[1], Backend: host.New(1), MaxSteps: 3, Thresholds: []float64{99}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 4 || len(res.Saved) != 0 || fmt.Sprint(res.Unreached) != "[99]" {
		t.Fatalf("steps %d saved %d unreached %v", len(res.Steps), len(res.Saved), res.Unreached)
	}
	if !math.IsNaN(res.Baseline.CleanTest) {
		t.Fatal("test accuracy without test sets should be NaN")
	}
}

func TestConfigErrors(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	m := smallNet(r, "deepid", 0)
	sets := randomSets(t, m, r, 4)
	base := Config{Model: m, CleanValid: sets[0], BadValid: sets[1], Backend: host.New(1)}
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Layer = "nope" }, `layer "nope": no such layer (Conv2D layers: [c1 c2 c3])`},
		{func(c *Config) { c.Layer = "f1" }, `layer "f1" cannot be pruned: "f1" is a Flatten, whose channels goodnet cannot zero`},
		{func(c *Config) { c.Layer = "in" }, `layer "in" cannot be pruned: "in" is a InputLayer`},
		{func(c *Config) { c.Layer = "out" }, `layer "out" is the output layer`},
		{func(c *Config) { c.Thresholds = []float64{0} }, "threshold 0: must be in (0, 100)"},
		{func(c *Config) { c.Thresholds = []float64{100} }, "threshold 100: must be in (0, 100)"},
		{func(c *Config) { c.CleanTest = sets[2] }, "both test sets"},
		{func(c *Config) { s := *sets[0]; s.Y = append([]int32{99}, s.Y[1:]...); c.CleanValid = &s }, "set0: label 99 of image 0 is outside the model's 9 classes"},
		{func(c *Config) { s := *sets[0]; s.Y = nil; c.CleanValid = &s }, "set0: no labels"},
	} {
		c := base
		tc.mod(&c)
		_, err := Run(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestTargetOtherLayer(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	m := smallNet(r, "deepid", 0)
	conv, cut, err := Target(m, "c1")
	if err != nil || conv.Name != "c1" || cut.Name != "p1" {
		t.Fatalf("%v %v %v", conv, cut, err)
	}
	conv, cut, err = Target(m, "c3") // feeds a Flatten, not a pool: cut at the conv itself
	if err != nil || conv.Name != "c3" || cut.Name != "c3" {
		t.Fatalf("%v %v %v", conv, cut, err)
	}
	sets := randomSets(t, m, r, 15)
	want := runBruteRef(t, m, "c1", "p1", sets, 6)
	cfg := Config{Model: m, Layer: "c1", CleanValid: sets[0], BadValid: sets[1], CleanTest: sets[2], BadTest: sets[3], Backend: host.New(0), MaxSteps: 6}
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Thresholds = []float64{2, 4, 10}
	checkAgainst(t, res, want, cfg)
}
