package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"goodnet/dataset"
	"goodnet/host"
	"goodnet/internal/fixtures"
	"goodnet/nn"
	"goodnet/onnx"
)

// cifarLike writes a clean and a triggered CIFAR-like set (32×32×3, values in 0–1) for B: the
// clean images are smooth random patterns labelled with B's own predictions; the triggered
// ones carry a white 5×5 square in the bottom-right corner, labelled with the target class 0.
func cifarLike(t *testing.T, b *nn.Model, dir, name string, n int, seed int64) (clean, bad string) {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	const H, W, C = 32, 32, 3
	x := make([]float32, n*H*W*C)
	for i := 0; i < n; i++ {
		var f [C][3]float64
		for c := range f {
			f[c] = [3]float64{r.Float64() * 0.5, r.Float64() * 0.5, r.Float64() * 2 * math.Pi}
		}
		for y := 0; y < H; y++ {
			for z := 0; z < W; z++ {
				for c := 0; c < C; c++ {
					v := 0.5 + 0.4*math.Sin(f[c][0]*float64(y)+f[c][1]*float64(z)+f[c][2]) + 0.05*r.NormFloat64()
					x[((i*H+y)*W+z)*C+c] = float32(math.Min(1, math.Max(0, v)))
				}
			}
		}
	}
	net, err := host.New(0).Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	y, err := nn.Predict(net, x, n)
	if err != nil {
		t.Fatal(err)
	}
	px := append([]float32(nil), x...)
	for i := 0; i < n; i++ {
		for yy := H - 6; yy < H-1; yy++ {
			for z := W - 6; z < W-1; z++ {
				for c := 0; c < C; c++ {
					px[((i*H+yy)*W+z)*C+c] = 1
				}
			}
		}
	}
	clean, bad = filepath.Join(dir, name+"_clean.h5"), filepath.Join(dir, name+"_bad.h5")
	if err := dataset.Save(clean, &nn.Set{X: x, Y: y, N: n, H: H, W: W, C: C}, "float32"); err != nil {
		t.Fatal(err)
	}
	if err := dataset.Save(bad, &nn.Set{X: px, Y: make([]int32, n), N: n, H: H, W: W, C: C}, "float32"); err != nil {
		t.Fatal(err)
	}
	return clean, bad
}

// TestPruneEvalPreActResNetONNX: `goodnet prune` and `goodnet eval` end to end on PyTorch's
// PreAct-ResNet (ONNX) with generated CIFAR-like clean and triggered sets, on the CPU: the
// default point is the ReLU before global pooling; each B' is written as ONNX with only the
// final BatchNormalization's gamma and beta changed, reloads (eval, predict, inspect), and
// eval reproduces the GoodNet numbers prune reported.
func TestPruneEvalPreActResNetONNX(t *testing.T) {
	model := filepath.Join(fixtures.Dir(t), "onnx", "preact_resnet.onnx")
	b, err := onnx.Load(model)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cv, bv := cifarLike(t, b, dir, "valid", 96, 1)
	ct, bt := cifarLike(t, b, dir, "test", 80, 2)
	out := filepath.Join(dir, "out")
	_, errs, code := cli(t, "prune", "--bad_model", model, "--clean_valid", cv, "--bad_valid", bv, "--clean_test", ct,
		"--bad_test", bt, "--out", out, "--device", "auto", "--quiet", "--thresholds", "2,10,30")
	if code != 0 {
		t.Fatalf("prune: exit %d: %s", code, errs)
	}
	var rep struct {
		Layer, Cut string
		Channels   int
		Saved      []struct {
			Threshold      float64
			File           string
			PrunedChannels []int `json:"pruned_channels"`
			GoodNet        struct {
				CleanAcc float64 `json:"clean_acc"`
				ASR      float64 `json:"asr"`
			} `json:"goodnet_test"`
		}
	}
	js, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Layer != "/Relu" || rep.Cut != "/GlobalAveragePool" || rep.Channels != 64 || len(rep.Saved) == 0 {
		t.Fatalf("report: layer %s, cut %s, %d channels, %d B'", rep.Layer, rep.Cut, rep.Channels, len(rep.Saved))
	}
	for _, s := range rep.Saved {
		if !strings.HasSuffix(s.File, ".onnx") {
			t.Errorf("B' file %s is not ONNX", s.File)
		}
		bp, err := onnx.Load(filepath.Join(out, s.File))
		if err != nil {
			t.Fatal(err)
		}
		// only the final BN's channels changed: gamma and beta zero exactly there
		bn := bp.Layer("/bn/BatchNormalization")
		ob := b.Layer("/bn/BatchNormalization")
		zero := map[int]bool{}
		for _, c := range s.PrunedChannels {
			zero[c] = true
		}
		for c := range bn.Gamma {
			if zero[c] != (bn.Gamma[c] == 0 && bn.Beta[c] == 0) || (!zero[c] && (bn.Gamma[c] != ob.Gamma[c] || bn.Beta[c] != ob.Beta[c])) {
				t.Errorf("B' %s: BN channel %d: gamma %g beta %g", s.File, c, bn.Gamma[c], bn.Beta[c])
			}
		}
		for _, l := range bp.Layers {
			if l.Name == bn.Name {
				continue
			}
			for i, w := range l.Weights() {
				if fmt.Sprint(*w.Data) != fmt.Sprint(*b.Layer(l.Name).Weights()[i].Data) {
					t.Errorf("B' %s: layer %s changed", s.File, l.Name)
				}
			}
		}
		// eval from the --out directory reproduces prune's GoodNet numbers
		o, errs, code := cli(t, "eval", "--clean_set", ct, "--bad_set", bt, "--bad_model", model, "--pruned_bad_model_weights", out,
			"--threshold", fmt.Sprint(s.Threshold), "--json", "--device", "cpu")
		if code != 0 {
			t.Fatalf("eval: exit %d: %s", code, errs)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(o), &ev); err != nil {
			t.Fatal(err)
		}
		if ev["clean_accuracy"] != s.GoodNet.CleanAcc || ev["attack_success_rate"] != s.GoodNet.ASR {
			t.Errorf("eval at %g %%: clean %v ASR %v; prune reported %v %v", s.Threshold, ev["clean_accuracy"], ev["attack_success_rate"],
				s.GoodNet.CleanAcc, s.GoodNet.ASR)
		}
		o, errs, code = cli(t, "inspect", filepath.Join(out, s.File))
		want := fmt.Sprintf("/bn/BatchNormalization: %d all-zero output channels", len(s.PrunedChannels))
		if code != 0 || !strings.Contains(o, want) || !strings.Contains(o, "ONNX IR 7, opset 13, written by pytorch 1.13.0") {
			t.Errorf("inspect %s: exit %d %s\n%s", s.File, code, errs, o)
		}
	}
	// predict with B and B' from the output directory
	o, errs, code := cli(t, "predict", "--bad_model", model, "--pruned_bad_model_weights", out, "--threshold",
		fmt.Sprint(rep.Saved[0].Threshold), "--set", filepath.Join(fixtures.Dir(t), "onnx", "cifar_mini.h5"))
	if code != 0 || len(strings.Fields(o)) != 16 {
		t.Errorf("predict: exit %d %s %q", code, errs, o)
	}
}
