package pipeline_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"goodnet/finetune"
	"goodnet/host"
	"goodnet/internal/fixtures"
	"goodnet/nn"
	"goodnet/onnx"
	"goodnet/pipeline"
)

func fineTuneOptions(t *testing.T, out string) pipeline.FineTuneOptions {
	return pipeline.FineTuneOptions{BadModel: fixtures.Path(t, "bd_net.h5"), Bprime: fixtures.Path(t, "bprime_2.h5"),
		CleanSet: fixtures.Path(t, "cl_mini.h5"), CleanTest: fixtures.Path(t, "cl_mini.h5"), BadTest: fixtures.Path(t, "bd_mini.h5"),
		Scale: 1, Out: out, FineTuneConfig: pipeline.FineTuneConfig{Epochs: 2, BatchSize: 3, Seed: 3, Backend: host.New(0)}}
}

// goodnet finetune on the real files: B” is written (weights only, B's layout), the 45 pruned
// channels of conv_3 are exactly zero in it and every layer moved; one line per epoch, epoch 0
// being GoodNet(B, B'_2) (expected.json: every clean face right, every poisoned one to 0).
func TestFineTuneRealFiles(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b_ft.h5")
	o := fineTuneOptions(t, out)
	var log bytes.Buffer
	o.Log = &log
	var progress []int
	o.Progress = func(done, total int) { progress = append(progress, done, total) }
	r, err := pipeline.FineTune(o)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "epoch  0/2") ||
		!strings.Contains(lines[0], "GoodNet test acc 100.00 %  ASR 100.00 %  flagged   0.00 %  (B', before fine-tuning)") ||
		!strings.HasPrefix(lines[2], "epoch  2/2  loss ") || !strings.Contains(lines[2], "GoodNet test acc") {
		t.Fatalf("log:\n%s", log.String())
	}
	if !slices.Equal(progress, []int{1, 2, 2, 2}) {
		t.Errorf("progress %v", progress)
	}
	if r.Before.ASR != 100 || r.BCleanAcc != 100 || r.BASR != 100 || len(r.Pruned["conv_3"]) != 45 || r.Images != 3 {
		t.Fatalf("outcome %+v", r)
	}
	b, err := pipeline.LoadModel(fixtures.Path(t, "bd_net.h5"), "")
	if err != nil {
		t.Fatal(err)
	}
	bp, err := pipeline.LoadBprime(b, fixtures.Path(t, "bprime_2.h5"))
	if err != nil {
		t.Fatal(err)
	}
	bpp, err := pipeline.LoadBprime(b, out) // weights only, B's layout
	if err != nil {
		t.Fatal(err)
	}
	if z, zp := pipeline.ZeroChannels(bpp), pipeline.ZeroChannels(bp); !slices.Equal(z["conv_3"], zp["conv_3"]) || len(z["conv_3"]) != 45 {
		t.Fatalf("zero channels of B'' %v, of B' %v", z["conv_3"], zp["conv_3"])
	}
	for _, l := range bpp.Layers {
		if l.HasWeights() && slices.Equal(l.W, bp.Layer(l.Name).W) {
			t.Errorf("layer %s did not move", l.Name)
		}
	}
	if !slices.Equal(bpp.Layer("conv_1").W, r.Model.Layer("conv_1").W) {
		t.Fatal("the file does not hold the B'' returned")
	}

	// the same seed gives the same B'', whatever the number of workers
	again := filepath.Join(t.TempDir(), "b_ft.h5")
	o2 := fineTuneOptions(t, again)
	o2.Workers = 1
	if _, err := pipeline.FineTune(o2); err != nil {
		t.Fatal(err)
	}
	bpp2, err := pipeline.LoadBprime(b, again)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range bpp.Layers {
		if !slices.Equal(l.W, bpp2.Layer(l.Name).W) || !slices.Equal(l.B, bpp2.Layer(l.Name).B) {
			t.Fatalf("same seed, one worker vs the default: layer %s differs", l.Name)
		}
	}
}

// Refused before any training, with nothing written.
func TestFineTuneRefusals(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "b_ft.h5")
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	for _, c := range []struct {
		name string
		edit func(o *pipeline.FineTuneOptions)
		want string
	}{
		{"B' is B", func(o *pipeline.FineTuneOptions) { o.Bprime = fixtures.Path(t, "bd_weights.h5") }, "no channel is pruned in it"},
		{"out is a directory", func(o *pipeline.FineTuneOptions) { o.Out = dir }, "is a directory; give the file to write B'' to"},
		{"out in a missing directory", func(o *pipeline.FineTuneOptions) { o.Out = filepath.Join(dir, "no", "b.h5") }, "cannot write there: no such file or directory"},
		{"out named .onnx", func(o *pipeline.FineTuneOptions) { o.Out = filepath.Join(dir, "b.onnx") }, "B is a Keras HDF5 model, so B'' is written as Keras HDF5 weights"},
		{"no such layer", func(o *pipeline.FineTuneOptions) { o.Layers = []string{"fc_9"} }, `layer "fc_9": no such layer`},
		{"BatchNorm", func(o *pipeline.FineTuneOptions) {
			o.BadModel = fixtures.Path(t, "onnx/preact_resnet.onnx")
		}, "cannot fine-tune this model: layer"},
		{"one test set", func(o *pipeline.FineTuneOptions) { o.BadTest = "" }, "give both test sets"},
		{"out is B'", func(o *pipeline.FineTuneOptions) {
			// a copy: were the check to fail, the shared fixture must not be overwritten
			c := filepath.Join(t.TempDir(), "bprime_2.h5")
			b, err := os.ReadFile(o.Bprime)
			if err != nil || os.WriteFile(c, b, 0o644) != nil {
				t.Fatal(err)
			}
			o.Bprime, o.Out = c, c
		}, "is B'; write B'' to another file"},
	} {
		o := fineTuneOptions(t, out)
		c.edit(&o)
		_, err := pipeline.FineTune(o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if c.name == "B' is B" && !errors.Is(err, pipeline.ErrNothingPruned) {
			t.Errorf("%s: not ErrNothingPruned: %v", c.name, err)
		}
		var le *finetune.LayerError
		if c.name == "no such layer" && !errors.As(err, &le) {
			t.Errorf("%s: not a LayerError: %v", c.name, err)
		}
		if c.name == "BatchNorm" && !strings.Contains(err.Error(), "(BatchNormalization): the trainer has no backward pass") {
			t.Errorf("%s: %v does not say why", c.name, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 { // ro
			t.Errorf("%s: %d entries in the output directory", c.name, len(ents))
		}
	}
	if os.Geteuid() != 0 {
		o := fineTuneOptions(t, filepath.Join(ro, "b.h5"))
		if _, err := pipeline.FineTune(o); err == nil || !strings.Contains(err.Error(), "cannot write there: permission denied") {
			t.Errorf("read-only directory: %v", err)
		}
	}
}

// prune --finetune-epochs: every saved B' is fine-tuned on the clean validation set and
// written beside it as bprime_<t>_ft.h5; report.json gives each one; B's saved at the same
// step give the same B”.
func TestPruneFineTune(t *testing.T) {
	dir := t.TempDir()
	p := fixtures.Path
	var progress [][2]int
	o, err := pipeline.Prune(pipeline.PruneOptions{BadModel: p(t, "bd_net.h5"), CleanValid: p(t, "cl_mini.h5"), BadValid: p(t, "bd_mini.h5"),
		Thresholds: []float64{2, 30, 50}, Scale: 1, Backend: host.New(0), Out: dir, FineTuneEpochs: 2, FineTuneSeed: 5,
		FineTuneProgress: func(done, total int) { progress = append(progress, [2]int{done, total}) }})
	if err != nil {
		t.Fatal(err)
	}
	// one image of three: the 2 and 30 % thresholds are reached at one step
	if len(o.Result.Saved) != 3 || len(o.FineTuned) != 3 || o.Result.Saved[0].Step != o.Result.Saved[1].Step || o.Result.Saved[1].Step == o.Result.Saved[2].Step {
		t.Fatalf("saved %d, fine-tuned %d (want the 2 and 30 %% thresholds at one step, 50 %% later)", len(o.Result.Saved), len(o.FineTuned))
	}
	if len(progress) != 4 || progress[3] != [2]int{6, 6} {
		t.Errorf("progress %v", progress)
	}
	if !slices.Equal(o.FineTuned[0].Model.Layer("fc_1").W, o.FineTuned[1].Model.Layer("fc_1").W) ||
		slices.Equal(o.FineTuned[1].Model.Layer("fc_1").W, o.FineTuned[2].Model.Layer("fc_1").W) {
		t.Error("the B' of one step gave two B'', or two steps one")
	}
	for _, name := range []string{"bprime_2_ft.h5", "bprime_30_ft.h5", "bprime_50_ft.h5", "bprime_2.h5", "report.json", "sweep.png"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	var rep struct {
		Saved []struct {
			Threshold float64
			File      string
			FineTuned struct {
				File    string
				Epochs  int
				LR      float64
				Seed    int64
				Metrics map[string]any
				GoodNet struct {
					On  string
					ASR *float64
				} `json:"goodnet_test"`
			} `json:"finetuned"`
		}
		Timings map[string]float64 `json:"timings_s"`
	}
	js, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Saved {
		f := s.FineTuned
		if f.File != strings.TrimSuffix(s.File, ".h5")+"_ft.h5" || f.Epochs != 2 || f.LR != finetune.DefaultLR || f.Seed != 5 ||
			f.GoodNet.On != "validation" || f.GoodNet.ASR == nil || f.Metrics["clean_valid_acc"] == nil {
			t.Errorf("saved %g: finetuned %+v", s.Threshold, f)
		}
	}
	if rep.Timings["finetune"] <= 0 {
		t.Errorf("timings %v", rep.Timings)
	}
	b, _ := pipeline.LoadModel(p(t, "bd_net.h5"), "")
	bp, _ := pipeline.LoadBprime(b, filepath.Join(dir, "bprime_2.h5"))
	bpp, err := pipeline.LoadBprime(b, filepath.Join(dir, "bprime_2_ft.h5"))
	if err != nil {
		t.Fatal(err)
	}
	if z, zp := pipeline.ZeroChannels(bpp)["conv_3"], pipeline.ZeroChannels(bp)["conv_3"]; !slices.Equal(z, zp) || len(z) == 0 {
		t.Fatalf("zero channels of B'' %v, of B' %v", z, zp)
	}
}

// An ONNX B: B” is written as ONNX (B's graph, only the initializers changed) and loads as B'.
func TestFineTuneONNX(t *testing.T) {
	dir := t.TempDir()
	p := fixtures.Path
	model := p(t, "onnx/deepid.onnx")
	if _, err := pipeline.Prune(pipeline.PruneOptions{BadModel: model, CleanValid: p(t, "cl_mini.h5"), BadValid: p(t, "bd_mini.h5"),
		Thresholds: []float64{2}, Scale: 1, Backend: host.New(0), Out: dir}); err != nil {
		t.Fatal(err)
	}
	o := fineTuneOptions(t, filepath.Join(dir, "b_ft.h5"))
	o.BadModel, o.Bprime, o.Threshold = model, dir, 2
	if _, err := pipeline.FineTune(o); err == nil || !strings.Contains(err.Error(), "B is an ONNX model, so B'' is written as ONNX: name the file .onnx") {
		t.Fatalf("an .h5 name for an ONNX B'': %v", err)
	}
	o.Out = filepath.Join(dir, "b_ft.onnx")
	r, err := pipeline.FineTune(o)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Load(o.Out)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pipeline.LoadModel(model, "")
	if err := b.SameArchitecture(m); err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		if l.Kind == nn.Conv2D && !slices.Equal(l.W, r.Model.Layer(l.Name).W) {
			t.Fatalf("%s: the ONNX file does not hold B''", l.Name)
		}
	}
	if len(r.Pruned) != 1 {
		t.Fatalf("pruned %v", r.Pruned)
	}
}
