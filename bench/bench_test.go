package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"goodnet/dataset"
	"goodnet/demo"
	"goodnet/internal/h5"
	"goodnet/nn"

	_ "goodnet/host" // the "cpu" backend
)

// TestRunStructure runs the whole benchmark on tiny sets and checks the report's structure
// (not the speeds).
func TestRunStructure(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	r, err := Run(Options{Images: 40, Repeats: 2, TempDir: dir, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if r.Images != 40 || r.Repeats != 2 || r.SweepSets != [4]int{36, 36, 40, 40} {
		t.Errorf("report header %d images, %d repeats, sets %v", r.Images, r.Repeats, r.SweepSets)
	}
	if r.FLOPs != nn.DeepID(55, 47, 1283).FLOPs() || r.Machine.Cores < 1 || r.Machine.CPU == "" || r.Machine.Devices["cpu"] == "" || r.Machine.GPU == "" {
		t.Errorf("machine %+v, flops %d", r.Machine, r.FLOPs)
	}
	want := []struct{ name, device string }{{Forward, "cpu"}, {Activations, "cpu"}, {ChannelSums, "cpu"}, {GoodNet, "cpu"}, {Sweep, "cpu"}, {FineTune, "cpu"}, {Read, "host"},
		{PruneJob, "cpu"}, {PredictJob, "cpu"}}
	if len(r.Rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(r.Rows), len(want), r.Rows)
	}
	for i, w := range want {
		row := r.Rows[i]
		if row.Name != w.name || row.Device != w.device || row.What == "" {
			t.Errorf("row %d: %s on %s (%q), want %s on %s", i, row.Name, row.Device, row.What, w.name, w.device)
		}
		s := row.Seconds
		if len(s.Runs) != 2 || !(s.Min > 0 && s.Min <= s.Median && s.Median <= s.Max) {
			t.Errorf("row %s: timings %+v", row.Name, s)
		}
		if row.Name != Sweep && row.ImagesPerS <= 0 {
			t.Errorf("row %s: %g images/s", row.Name, row.ImagesPerS)
		}
	}
	if r.Rows[0].Images != 40 || r.Rows[0].GFLOPPerS <= 0 {
		t.Errorf("forward row %+v", r.Rows[0])
	}
	sw := r.Rows[4]
	if sw.Images != 152 || sw.Phases["features"] <= 0 || sw.Phases["sweep"] <= 0 {
		t.Errorf("sweep row %+v", sw)
	}
	if st := sw.Stats; st == nil || st.Images != 152 || len(st.Active) != 60 {
		t.Errorf("sweep stats %+v", sw.Stats)
	} else {
		for k := range st.Active {
			if st.Active[k] > st.Images {
				t.Errorf("step %d: %d active of %d", k+1, st.Active[k], st.Images)
			}
		}
	}
	if pj := r.Rows[7]; pj.Images != 152 || !(pj.ForwardPasses > 0) || pj.Phases["read"] <= 0 || pj.Phases["features"] <= 0 || pj.Phases["sweep"] <= 0 {
		t.Errorf("prune job row %+v", pj)
	}
	if pj := r.Rows[8]; pj.Images != 36 || !(pj.ForwardPasses > 0) {
		t.Errorf("predict job row %+v", pj)
	}
	if ft := r.Rows[5]; ft.Images != 32 || !strings.Contains(ft.What, "45 of conv_3 held at 0") {
		t.Errorf("fine-tune row %+v (the 36 validation images make one minibatch of 32)", ft)
	}
	if rd := r.Rows[6]; rd.Images != 152 || rd.MBPerS <= 0 {
		t.Errorf("read row %+v", rd)
	}
	if len(r.Ratios) != 0 {
		t.Errorf("ratios without a GPU: %+v", r.Ratios)
	}
	for _, row := range r.Rows {
		if row.Output != nil {
			t.Errorf("row %s keeps its output without Options.Keep", row.Name)
		}
	}
	var tab bytes.Buffer
	if err := r.WriteTable(&tab); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"img/s", "GFLOP/s", "pruning sweep", "phases (medians)", "fine-tune B'", "read the 4", "[", "median of 2 runs", "forward passes", "goodnet prune end to end"} {
		if !strings.Contains(tab.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, tab.String())
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Rows) != len(r.Rows) || back.Rows[0].Seconds.Median != r.Rows[0].Seconds.Median {
		t.Errorf("JSON round trip: %v", err)
	}
	if !strings.Contains(log.String(), "bench: cpu: DeepID forward") {
		t.Errorf("log:\n%s", log.String())
	}
	for _, f := range LabFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestKeep: with Options.Keep every row hands back what its last run computed, and those
// results are the backend's: the classes of nn.Predict, the activations of Run, their sums,
// GoodNet's three class lists, the sweep's result.
func TestKeep(t *testing.T) {
	cpu, err := nn.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	m := DefaultModel()
	bp := m.Clone()
	r, err := Run(Options{Backends: []nn.Backend{cpu}, Model: m, Bprime: bp, Images: 30, Repeats: 1, Keep: true, NoRead: true, NoFineTune: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 5 {
		t.Fatalf("%d rows without the read row, want 5", len(r.Rows))
	}
	sets, err := LabSets(m, cpu, SetOptions{Valid: validSize(30), Test: 30})
	if err != nil {
		t.Fatal(err)
	}
	net, err := cpu.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	x := sets.CleanTest.X
	cls, _ := nn.Predict(net, x, 30)
	act, _ := net.Run(map[string][]float32{"input": x}, 30, "pool_3")
	for _, row := range r.Rows {
		o := row.Output
		if o == nil {
			t.Fatalf("row %s has no output", row.Name)
		}
		switch row.Name {
		case Forward:
			if fmt.Sprint(o.Classes) != fmt.Sprint(cls) {
				t.Errorf("forward classes %v, want %v", o.Classes, cls)
			}
		case Activations:
			if fmt.Sprint(o.Values) != fmt.Sprint(act[0]) {
				t.Errorf("activations differ from Run's")
			}
		case ChannelSums:
			if len(o.Sums) != 60 {
				t.Fatalf("%d sums", len(o.Sums))
			}
			for c := range o.Sums {
				s := 0.0
				for i := c; i < len(act[0]); i += 60 {
					s += float64(act[0][i])
				}
				if o.Sums[c] != s {
					t.Errorf("channel %d: sum %g, want %g", c, o.Sums[c], s)
				}
			}
		case GoodNet:
			// B' = B: G is B everywhere
			if p := o.Pair; p == nil || fmt.Sprint(p.B) != fmt.Sprint(cls) || fmt.Sprint(p.G) != fmt.Sprint(cls) {
				t.Errorf("GoodNet output %+v", o.Pair)
			}
		case Sweep:
			if o.Sweep == nil || len(o.Sweep.Steps) != 61 {
				t.Errorf("sweep output: %v", o.Sweep != nil)
			}
		}
	}
}

func TestRatios(t *testing.T) {
	rows := []Row{{Name: Forward, Device: "cpu", Seconds: Stat{Median: 2}}, {Name: Forward, Device: "gpu", Seconds: Stat{Median: 0.5}},
		{Name: Read, Device: "host", Seconds: Stat{Median: 1}}}
	r := ratios(rows)
	if len(r) != 1 || r[0].Name != Forward || r[0].Speedup != 4 {
		t.Errorf("%+v", r)
	}
}

func TestStat(t *testing.T) {
	s := newStat([]float64{3, 1, 2, 10})
	if s.Median != 2.5 || s.Min != 1 || s.Max != 10 || s.Runs[0] != 3 {
		t.Errorf("%+v", s)
	}
	if s := newStat([]float64{5}); s.Median != 5 || s.Min != 5 || s.Max != 5 {
		t.Errorf("%+v", s)
	}
}

// TestLabSets checks the synthetic sets: sizes, labels (B's predictions; the target), the
// trigger, and the files' layouts.
func TestLabSets(t *testing.T) {
	m := DefaultModel()
	b, err := nn.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	for _, unique := range []bool{false, true} {
		s, err := LabSets(m, b, SetOptions{Valid: 23, Test: 30, Unique: unique, Pool: 20, Target: 5})
		if err != nil {
			t.Fatal(err)
		}
		net, _ := b.Compile(m)
		for i, set := range s.All() {
			wantN := []int{23, 23, 30, 30}[i]
			if set.N != wantN || len(set.X) != wantN*55*47*3 || len(set.Y) != wantN {
				t.Fatalf("set %d: %d images", i, set.N)
			}
			for _, v := range set.X {
				if v < 0 || v > 255 || v != float32(int(v)) {
					t.Fatalf("set %d: pixel %v", i, v)
				}
			}
			if i%2 == 0 {
				p, _ := nn.Predict(net, set.X, set.N)
				for j := range p {
					if p[j] != set.Y[j] {
						t.Fatalf("set %d image %d: label %d, B predicts %d", i, j, set.Y[j], p[j])
					}
				}
				// the poisoned set is the same faces with the trigger
				x := append([]float32(nil), set.X...)
				demo.AddTrigger(x, set.N)
				bad := s.All()[i+1]
				for j := range x {
					if x[j] != bad.X[j] {
						t.Fatalf("set %d: pixel %d of the poisoned copy", i+1, j)
					}
				}
			} else {
				for _, y := range set.Y {
					if y != 5 {
						t.Fatalf("poisoned label %d", y)
					}
				}
			}
		}
		net.Close()
		dir := t.TempDir()
		paths, err := WriteLabFiles(dir, s)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range paths {
			f, err := h5.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			di, err1 := f.DatasetInfo("data")
			li, err2 := f.DatasetInfo("label")
			f.Close()
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			// the layouts of cl_mini.h5 (float64, float64 labels) and bd_mini.h5 (uint8, int64)
			wantData, wantLabel := h5.Type{Class: h5.Float, Size: 8}, h5.Type{Class: h5.Float, Size: 8}
			if i%2 == 1 {
				wantData, wantLabel = h5.Type{Class: h5.Int, Size: 1}, h5.Type{Class: h5.Int, Size: 8, Signed: true}
			}
			if di.Type.Class != wantData.Class || di.Type.Size != wantData.Size || li.Type.Class != wantLabel.Class ||
				li.Type.Size != wantLabel.Size || li.Type.Signed != wantLabel.Signed || di.ShapeString() != fmt.Sprintf("(%d, 3, 55, 47)", s.All()[i].N) {
				t.Errorf("%s: data %v %s, label %v", p, di.Type, di.ShapeString(), li.Type)
			}
			got, err := dataset.Load(p, 1)
			if err != nil {
				t.Fatal(err)
			}
			want := s.All()[i]
			if got.N != want.N || got.H != 55 || got.W != 47 || got.C != 3 {
				t.Fatalf("%s: %d×%d×%d×%d", p, got.N, got.H, got.W, got.C)
			}
			for j := range got.X {
				if got.X[j] != want.X[j] {
					t.Fatalf("%s: pixel %d", p, j)
				}
			}
			for j := range got.Y {
				if got.Y[j] != want.Y[j] {
					t.Fatalf("%s: label %d", p, j)
				}
			}
		}
	}
	if _, err := LabSets(m, b, SetOptions{Valid: 0, Test: 1}); err == nil {
		t.Error("empty set accepted")
	}
	small := nn.DeepID(31, 31, 10)
	nn.RandomWeights(small, 1)
	if _, err := LabSets(small, b, SetOptions{Valid: 1, Test: 1}); err == nil {
		t.Error("31×31 model accepted")
	}
}

// TestTrainSpeed runs the side-by-side training measurement on a tiny epoch.
func TestTrainSpeed(t *testing.T) {
	var log bytes.Buffer
	rates, err := TrainSpeed(TrainSpeedOptions{Classes: 32, Images: 64, Repeats: 2, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if len(rates) != 2 || rates[0] <= 0 || rates[1] <= 0 || strings.Count(log.String(), "goodnet epoch") != 2 {
		t.Fatalf("rates %v, log:\n%s", rates, log.String())
	}
}
