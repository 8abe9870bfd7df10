package gpucheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"goodnet/bench"
	"goodnet/dataset"
	"goodnet/keras"
	"goodnet/nn"
)

// realModels are the lab's B and B'_2, loaded from the fixtures.
type realModels struct {
	B, Bprime *nn.Model
}

type expectedSet struct {
	B        []int32   `json:"B"`
	Bprime   []int32   `json:"Bprime_2"`
	GoodNet  []int32   `json:"GoodNet_2"`
	TopLogit []float64 `json:"B_top_logit"`
}

// pairOn runs B and B' on the GPU (nn.PairPredictor) and the CPU and compares: the logits of
// both within Tol, the classes exactly but for near ties, GoodNet's merge. It returns the
// GPU's classes and a description of the differences.
type pairResult struct {
	b, bp, g []int32
	worst    float64 // largest logit difference, relative to the image's largest |logit|
	ties     int     // near ties that differ
}

type pairNets struct {
	m                *realModels
	gb, gbp, cb, cbp nn.Net
}

func (p *pairNets) run(x []float32, n int) (*pairResult, error) {
	pp, ok := p.gb.(nn.PairPredictor)
	if !ok {
		return nil, fmt.Errorf("the GPU's Net (%T) is not an nn.PairPredictor", p.gb)
	}
	flag := int32(p.m.B.NumClasses())
	gb, gbp, gm, err := pp.PredictPair(p.gbp, x, n, flag)
	if err != nil {
		return nil, err
	}
	if _, err := checkMerge(gb, gbp, gm, flag); err != nil {
		return nil, fmt.Errorf("GoodNet: %w", err)
	}
	res := &pairResult{b: gb, bp: gbp, g: gm}
	k := p.m.B.NumClasses()
	tied := map[int]bool{}
	for _, side := range []struct {
		name     string
		m        *nn.Model
		gpu, cpu nn.Net
		cls      []int32
	}{{"B", p.m.B, p.gb, p.cb, gb}, {"B'", p.m.Bprime, p.gbp, p.cbp, gbp}} {
		feeds := map[string][]float32{side.m.Input.Name: x}
		gl, err := side.gpu.Run(feeds, n, side.m.Output.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", side.name, err)
		}
		cl, err := side.cpu.Run(feeds, n, side.m.Output.Name)
		if err != nil {
			return nil, fmt.Errorf("%s on the CPU: %w", side.name, err)
		}
		d, err := rowsClose(gl[0], widen(cl[0]), n, Tol)
		if err != nil {
			return nil, fmt.Errorf("%s's logits vs the CPU's: %w", side.name, err)
		}
		res.worst = math.Max(res.worst, d)
		if a := nn.Argmax(gl[0], n, k); !equalClasses(a, side.cls) {
			return nil, fmt.Errorf("%s: PredictPair's classes differ from the argmax of Run's logits", side.name)
		}
		ties, err := classDiff(side.cls, nn.Argmax(cl[0], n, k), k, func(images []int) ([]float32, error) {
			z := make([]float32, 0, len(images)*k)
			for _, i := range images {
				z = append(z, cl[0][i*k:(i+1)*k]...)
			}
			return z, nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", side.name, err)
		}
		for _, i := range ties {
			tied[i] = true
		}
		res.ties += len(ties)
	}
	// G on the CPU: the merge of the CPU's classes; it may differ only where B or B' tied
	cb, err := nn.Predict(p.cb, x, n)
	if err != nil {
		return nil, err
	}
	cbp, err := nn.Predict(p.cbp, x, n)
	if err != nil {
		return nil, err
	}
	for i := range gm {
		want := cb[i]
		if cb[i] != cbp[i] {
			want = flag
		}
		if gm[i] != want && !tied[i] {
			return nil, fmt.Errorf("GoodNet image %d: GPU %d, CPU %d", i, gm[i], want)
		}
	}
	return res, nil
}

func (r *run) realChecks() *realModels {
	dir := r.o.Fixtures
	r.section("the lab's B and B'_2 (%s)", dir)
	var m *realModels
	var expected map[string]expectedSet
	r.check("fixtures load", func() (string, string, error) {
		raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
		if err != nil {
			return "", "", err
		}
		if err := json.Unmarshal(raw, &expected); err != nil {
			return "", "", fmt.Errorf("%s: %w", filepath.Join(dir, "expected.json"), err)
		}
		b, err := keras.LoadModel(filepath.Join(dir, "bd_net.h5"))
		if err != nil {
			return "", "", err
		}
		bp, err := keras.LoadModel(filepath.Join(dir, "bprime_2.h5"))
		if err != nil {
			return "", "", err
		}
		if err := b.SameArchitecture(bp); err != nil {
			return "", "", fmt.Errorf("bprime_2.h5: %w", err)
		}
		m = &realModels{B: b, Bprime: bp}
		return "", fmt.Sprintf("bd_net.h5 (B) and bprime_2.h5 (B'_2): %s, %d classes", b.InputShape(), b.NumClasses()), nil
	})
	if m == nil {
		return nil
	}
	var nets compiled
	defer nets.close()
	p := &pairNets{m: m}
	for _, c := range []struct {
		dst *nn.Net
		b   nn.Backend
		m   *nn.Model
	}{{&p.gb, r.env.GPU, m.B}, {&p.gbp, r.env.GPU, m.Bprime}, {&p.cb, r.env.CPU, m.B}, {&p.cbp, r.env.CPU, m.Bprime}} {
		n, err := nets.add(c.b, c.m)
		if err != nil {
			r.check("fixtures compile", func() (string, string, error) { return "", "", fmt.Errorf("%s on %s: %w", c.m.Name, c.b.Name(), err) })
			return m
		}
		*c.dst = n
	}

	// every fixture image: the two mini sets against expected.json, the faces (PNG)
	for _, name := range []string{"cl_mini", "bd_mini"} {
		r.check("fixture "+name+".h5", func() (string, string, error) {
			e, ok := expected[name]
			if !ok {
				return "", "", fmt.Errorf("expected.json has no %q", name)
			}
			set, err := dataset.Load(filepath.Join(dir, name+".h5"), 1)
			if err != nil {
				return "", "", err
			}
			if err := set.CheckShape(m.B.InputShape()); err != nil {
				return "", "", err
			}
			res, err := p.run(set.X, set.N)
			if err != nil {
				return "", "", err
			}
			for _, c := range []struct {
				what      string
				got, want []int32
			}{{"B", res.b, e.B}, {"B'_2", res.bp, e.Bprime}, {"GoodNet", res.g, e.GoodNet}} {
				if !equalClasses(c.got, c.want) {
					return "", "", fmt.Errorf("%s predicts %v on the GPU, expected.json %v", c.what, c.got, c.want)
				}
			}
			if len(e.TopLogit) != set.N {
				return "", "", fmt.Errorf("expected.json: %d top logits for %d images", len(e.TopLogit), set.N)
			}
			logits, err := p.gb.Run(map[string][]float32{m.B.Input.Name: set.X}, set.N, m.B.Output.Name)
			if err != nil {
				return "", "", err
			}
			k, top := m.B.NumClasses(), 0.0
			for i := 0; i < set.N; i++ {
				got := float64(logits[0][i*k+int(res.b[i])])
				d := math.Abs(got-e.TopLogit[i]) / math.Abs(e.TopLogit[i])
				if !(d <= Tol) {
					return "", "", fmt.Errorf("image %d: B's top logit %g on the GPU, expected.json (float64) %g", i, got, e.TopLogit[i])
				}
				top = math.Max(top, d)
			}
			return fmt.Sprintf("top logits %s of expected.json's, logits %s of the CPU's", sci(top), sci(res.worst)),
				fmt.Sprintf("%d images: B %v, B'_2 %v, GoodNet %v = expected.json = the CPU", set.N, res.b, res.bp, res.g), nil
		})
	}
	r.check("fixture faces/*.png", func() (string, string, error) {
		paths, err := filepath.Glob(filepath.Join(dir, "faces", "*.png"))
		if err != nil {
			return "", "", err
		}
		if len(paths) == 0 {
			return "", "", fmt.Errorf("no PNG in %s", filepath.Join(dir, "faces"))
		}
		sort.Strings(paths)
		set, err := dataset.LoadImages(paths, 1, m.B.InputShape())
		if err != nil {
			return "", "", err
		}
		res, err := p.run(set.X, set.N)
		if err != nil {
			return "", "", err
		}
		return fmt.Sprintf("logits %s; %s", sci(res.worst), tiesWordN(res.ties)),
			fmt.Sprintf("%d faces: B %v, B'_2 %v, GoodNet %v = the CPU", set.N, res.b, res.bp, res.g), nil
	})

	// a few thousand synthetic faces, clean and wearing the trigger
	r.check("synthetic faces", func() (string, string, error) {
		sets, err := bench.LabSets(m.B, r.env.CPU, bench.SetOptions{Valid: 1, Test: r.o.Faces})
		if err != nil {
			return "", "", err
		}
		n := sets.CleanTest.N + sets.BadTest.N
		x := append(append([]float32(nil), sets.CleanTest.X...), sets.BadTest.X...)
		res, err := p.run(x, n)
		if err != nil {
			return "", "", err
		}
		flagged := 0
		for _, g := range res.g[sets.CleanTest.N:] {
			if g == int32(m.B.NumClasses()) {
				flagged++
			}
		}
		return fmt.Sprintf("logits %s; %s", sci(res.worst), tiesWordN(res.ties)),
			fmt.Sprintf("%d clean + %d triggered faces: B's and B'_2's logits and classes, GoodNet's classes = the CPU's (GoodNet flags %d of the triggered)", sets.CleanTest.N, sets.BadTest.N, flagged), nil
	})
	r.check("synthetic faces, channel sums", func() (string, string, error) {
		cut := m.B.LastPool()
		if cut == nil {
			return "", "", errors.New("B has no pooling layer")
		}
		sets, err := bench.LabSets(m.B, r.env.CPU, bench.SetOptions{Valid: 1, Test: min(r.o.Faces, 1024), Seed: 2})
		if err != nil {
			return "", "", err
		}
		x, n := sets.CleanTest.X, sets.CleanTest.N
		cs, ok := p.gb.(nn.ChannelSummer)
		if !ok {
			return "", "", fmt.Errorf("the GPU's Net (%T) is not an nn.ChannelSummer", p.gb)
		}
		feeds := map[string][]float32{m.B.Input.Name: x}
		sums, err := cs.ChannelSums(feeds, n, cut.Name)
		if err != nil {
			return "", "", err
		}
		v, err := p.cb.Run(feeds, n, cut.Name)
		if err != nil {
			return "", "", err
		}
		C := cut.OutShape[len(cut.OutShape)-1]
		worst, err := sumsClose(sums, cpuSums(v[0], C))
		if err != nil {
			return "", "", err
		}
		return sci(worst) + " of the largest sum", fmt.Sprintf("B's %d channel sums at %s over %d faces (on the device) = the CPU's", C, cut.Name, n), nil
	})
	return m
}

func tiesWordN(n int) string {
	if n == 0 {
		return "classes identical"
	}
	return fmt.Sprintf("%d near ties differ", n)
}
