package onnx

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"goodnet/dataset"
	"goodnet/host"
	"goodnet/internal/fixtures"
	"goodnet/keras"
	"goodnet/nn"
	"goodnet/nn/ref"
)

// relErr is max |got−want| / max |want| over one image's logits.
func relErr(got []float32, want []float64) float64 {
	var d, s float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-want[i]))
		s = math.Max(s, math.Abs(want[i]))
	}
	return d / s
}

func onnxFixture(t *testing.T, name string) string {
	return filepath.Join(fixtures.Dir(t), "onnx", name)
}

func run(t *testing.T, m *nn.Model, s *nn.Set) []float32 {
	t.Helper()
	net, err := host.New(0).Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	out, err := net.Run(map[string][]float32{m.Input.Name: s.X}, s.N, m.Output.Name)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

// TestPreActResNetFixture: PyTorch's PreAct-ResNet predicts expected.json's argmax on
// cifar_mini.h5 exactly, logits within 1e-4 relative, on the CPU engine and in nn/ref.
func TestPreActResNetFixture(t *testing.T) {
	var exp map[string]struct {
		Argmax []int32
		Logits [][]float64
		Margin float64 `json:"min_top2_margin"`
	}
	raw, err := os.ReadFile(onnxFixture(t, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	e := exp["preact_resnet.onnx"]
	m, err := Load(onnxFixture(t, "preact_resnet.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.InputShape().Equal(nn.Shape{32, 32, 3}) || m.NumClasses() != 10 {
		t.Fatalf("input %v, %d classes", m.InputShape(), m.NumClasses())
	}
	s, err := dataset.Load(onnxFixture(t, "cifar_mini.h5"), 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != len(e.Argmax) {
		t.Fatalf("%d images, expected.json has %d", s.N, len(e.Argmax))
	}
	logits := run(t, m, s)
	want, err := ref.Run(m, map[string][]float64{m.Input.Name: ref.Widen(s.X)}, s.N, m.Output.Name)
	if err != nil {
		t.Fatal(err)
	}
	cls := nn.Argmax(logits, s.N, 10)
	for i := 0; i < s.N; i++ {
		if cls[i] != e.Argmax[i] {
			t.Errorf("image %d: class %d, PyTorch %d", i, cls[i], e.Argmax[i])
		}
		if r := relErr(logits[i*10:(i+1)*10], e.Logits[i]); r > 1e-4 {
			t.Errorf("image %d: logits differ from PyTorch's by %.3g relative", i, r)
		}
		if r := relErr(toF32(want[0][i*10:(i+1)*10]), e.Logits[i]); r > 1e-4 {
			t.Errorf("image %d: nn/ref's logits differ from PyTorch's by %.3g relative", i, r)
		}
	}
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestDeepIDFixture: the lab's B exported by PyTorch predicts what bd_net.h5 predicts (and
// expected.json) on both mini sets, logits within 1e-4 relative of the Keras file's.
func TestDeepIDFixture(t *testing.T) {
	m, err := Load(onnxFixture(t, "deepid.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := keras.LoadModel(fixtures.Path(t, "bd_net.h5"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.InputShape().Equal(k.InputShape()) || m.NumClasses() != k.NumClasses() || m.Params() != k.Params() {
		t.Fatalf("input %v, %d classes, %d params; Keras: %v, %d, %d", m.InputShape(), m.NumClasses(), m.Params(),
			k.InputShape(), k.NumClasses(), k.Params())
	}
	var exp map[string]map[string][]int32
	raw, err := os.ReadFile(onnxFixture(t, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(raw, &exp) // the preact entry does not fit this type; deepid's does
	for _, set := range []string{"cl_mini.h5", "bd_mini.h5"} {
		s, err := dataset.Load(fixtures.Path(t, set), 1)
		if err != nil {
			t.Fatal(err)
		}
		got, want := run(t, m, s), run(t, k, s)
		K := m.NumClasses()
		cls := nn.Argmax(got, s.N, K)
		for i := 0; i < s.N; i++ {
			if cls[i] != exp["deepid.onnx"][set][i] {
				t.Errorf("%s image %d: class %d, expected %d", set, i, cls[i], exp["deepid.onnx"][set][i])
			}
			if r := relErr(got[i*K:(i+1)*K], ref.Widen(want[i*K:(i+1)*K])); r > 1e-4 {
				t.Errorf("%s image %d: logits differ from bd_net.h5's by %.3g relative", set, i, r)
			}
		}
	}
}
