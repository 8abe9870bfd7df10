package onnx

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"goodnet/dataset"
	"goodnet/internal/fixtures"
	"goodnet/nn"
	"goodnet/onnx/pb"
)

// TestSaveRoundTrip: B' written as ONNX changes only the pruned initializers (every other
// tensor and every node as in the file read), reloads, and predicts what the model in memory
// predicts. Pruned here: conv_3 channels of the lab's B (weights and bias; the Gemm reading
// the flatten is untouched), and channels of the PreAct-ResNet's last BatchNormalization
// (gamma and beta) and of its folded conv (weights and bias).
func TestSaveRoundTrip(t *testing.T) {
	for _, c := range []struct {
		file, set string
		zero      map[string][]string // layer → weights zeroed at channels 1, 5
	}{
		{"deepid.onnx", "cl_mini.h5", map[string][]string{"/conv_3/Conv": {"kernel", "bias"}}},
		{"preact_resnet.onnx", "onnx/cifar_mini.h5", map[string][]string{"/bn/BatchNormalization": {"gamma", "beta"},
			"/layers/layers.2/conv1/Conv": {"kernel", "bias"}}},
	} {
		path := onnxFixture(t, c.file)
		m, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		bp := m.Clone()
		changed := map[string]bool{}
		for lname, ws := range c.zero {
			l := bp.Layer(lname)
			if l == nil {
				t.Fatalf("%s: no layer %q", c.file, lname)
			}
			for _, w := range l.Weights() {
				for _, name := range ws {
					if w.Name != name {
						continue
					}
					v := *w.Data
					ch := w.Shape[len(w.Shape)-1]
					for i := range v {
						if i%ch == 1 || i%ch == 5 {
							v[i] = 0
						}
					}
					changed[origOf(m).bindings[lname][name].init] = true
				}
			}
		}
		out := filepath.Join(t.TempDir(), "bprime.onnx")
		if err := Save(bp, out); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := os.ReadFile(path)
		a, b := &pb.ModelProto{}, &pb.ModelProto{}
		if err := proto.Unmarshal(orig, a); err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(data, b); err != nil {
			t.Fatal(err)
		}
		diff := 0
		for i, ta := range a.Graph.Initializer {
			tb := b.Graph.Initializer[i]
			same := proto.Equal(ta, tb)
			if changed[ta.GetName()] == same {
				t.Errorf("%s: initializer %q changed %v, want %v", c.file, ta.GetName(), !same, changed[ta.GetName()])
			}
			if !same {
				diff++
			}
		}
		a.Graph.Initializer, b.Graph.Initializer = nil, nil
		if !proto.Equal(a, b) {
			t.Errorf("%s: the graph changed beyond the initializers", c.file)
		}
		if diff != len(changed) {
			t.Errorf("%s: %d initializers changed, want %d", c.file, diff, len(changed))
		}
		re, err := Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := bp.SameArchitecture(re); err != nil {
			t.Fatal(err)
		}
		s, err := dataset.Load(filepath.Join(fixtures.Dir(t), c.set), 1)
		if err != nil {
			t.Fatal(err)
		}
		got, want := run(t, re, s), run(t, bp, s)
		if !slices.Equal(got, want) {
			t.Errorf("%s: the reloaded B' computes other logits than the model written", c.file)
		}
		// unchanged: the bytes written are those read
		same, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		ra, rb := &pb.ModelProto{}, &pb.ModelProto{}
		proto.Unmarshal(orig, ra)
		proto.Unmarshal(same, rb)
		if !proto.Equal(ra, rb) {
			t.Errorf("%s: an unchanged model is written differently", c.file)
		}
	}
}

func origOf(m *nn.Model) *origin { return m.Origin.(*origin) }

// TestSaveErrors: a model not read from ONNX, and weights that cannot fit a shared initializer.
func TestSaveErrors(t *testing.T) {
	m := nn.DeepID(55, 47, 10)
	nn.RandomWeights(m, 1)
	if err := Save(m, filepath.Join(t.TempDir(), "x.onnx")); err == nil || !strings.Contains(err.Error(), "not read from an ONNX file") {
		t.Errorf("Keras model saved as ONNX: %v", err)
	}
	// two convs sharing one weight initializer; pruning one of them cannot be written
	b := newBuilder(3)
	w := b.rand(0, 0.5, 3, 3, 1, 1)
	x := b.node("Conv", []string{"input", w})
	x = b.node("Conv", []string{x, w})
	x = b.node("GlobalAveragePool", []string{x})
	x = b.node("Flatten", []string{x})
	x = b.node("Gemm", []string{x, b.rand(0, 0.5, 2, 3)}, aInt("transB", 1))
	sm, err := Decode(marshal(b.model(x, 1, 3, 4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Encode(sm); err != nil {
		t.Fatalf("unchanged shared weights: %v", err)
	}
	sm.Layers[1].W[0] = 0
	if _, err := Encode(sm); err == nil || !strings.Contains(err.Error(), "is shared by layers") {
		t.Errorf("diverging shared weights written: %v", err)
	}
}
