package keras

import (
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"goodnet/host"
	"goodnet/nn"
)

// modern is a Keras 2.4 Functional config with every layer of issue 14: ZeroPadding2D,
// BatchNormalization (and one with scale=False, center=False), ReLU and LeakyReLU layers,
// AveragePooling2D, Concatenate, GlobalAveragePooling2D, Softmax.
const modern = `{"class_name": "Functional", "config": {"name": "modern", "layers": [
 {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 12, 10, 3], "dtype": "float32", "sparse": false, "ragged": false, "name": "in"}, "name": "in", "inbound_nodes": []},
 {"class_name": "ZeroPadding2D", "config": {"name": "zp", "trainable": true, "dtype": "float32", "padding": [[1, 2], [0, 1]], "data_format": "channels_last"}, "name": "zp", "inbound_nodes": [[["in", 0, 0, {}]]]},
 {"class_name": "Conv2D", "config": {"name": "c1", "filters": 6, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "activation": "linear", "use_bias": false}, "name": "c1", "inbound_nodes": [[["zp", 0, 0, {}]]]},
 {"class_name": "BatchNormalization", "config": {"name": "bn1", "trainable": true, "dtype": "float32", "axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true, "beta_initializer": {"class_name": "Zeros", "config": {}}, "gamma_initializer": {"class_name": "Ones", "config": {}}, "moving_mean_initializer": {"class_name": "Zeros", "config": {}}, "moving_variance_initializer": {"class_name": "Ones", "config": {}}, "beta_regularizer": null, "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null}, "name": "bn1", "inbound_nodes": [[["c1", 0, 0, {}]]]},
 {"class_name": "ReLU", "config": {"name": "r1", "trainable": true, "dtype": "float32", "max_value": null, "negative_slope": 0.0, "threshold": 0.0}, "name": "r1", "inbound_nodes": [[["bn1", 0, 0, {}]]]},
 {"class_name": "Conv2D", "config": {"name": "c2", "filters": 4, "kernel_size": 1, "activation": "relu"}, "name": "c2", "inbound_nodes": [[["r1", 0, 0, {}]]]},
 {"class_name": "BatchNormalization", "config": {"name": "bn2", "axis": -1, "epsilon": 0.01, "center": false, "scale": false}, "name": "bn2", "inbound_nodes": [[["c2", 0, 0, {}]]]},
 {"class_name": "LeakyReLU", "config": {"name": "lr", "trainable": true, "dtype": "float32", "alpha": 0.20000000298023224}, "name": "lr", "inbound_nodes": [[["bn2", 0, 0, {}]]]},
 {"class_name": "Concatenate", "config": {"name": "cat", "trainable": true, "dtype": "float32", "axis": -1}, "name": "cat", "inbound_nodes": [[["r1", 0, 0, {}], ["lr", 0, 0, {}]]]},
 {"class_name": "AveragePooling2D", "config": {"name": "ap", "trainable": true, "dtype": "float32", "pool_size": [2, 2], "padding": "same", "strides": [2, 2], "data_format": "channels_last"}, "name": "ap", "inbound_nodes": [[["cat", 0, 0, {}]]]},
 {"class_name": "GlobalAveragePooling2D", "config": {"name": "gap", "trainable": true, "dtype": "float32", "data_format": "channels_last", "keepdims": false}, "name": "gap", "inbound_nodes": [[["ap", 0, 0, {}]]]},
 {"class_name": "Dense", "config": {"name": "d", "units": 5, "activation": "linear", "use_bias": true}, "name": "d", "inbound_nodes": [[["gap", 0, 0, {}]]]},
 {"class_name": "Softmax", "config": {"name": "sm", "trainable": true, "dtype": "float32", "axis": -1}, "name": "sm", "inbound_nodes": [[["d", 0, 0, {}]]]}
], "input_layers": [["in", 0, 0]], "output_layers": [["sm", 0, 0]]}}`

// TestNewLayersRoundTrip: the config parses into the layers it says; a model file and a
// weights-only file written from it load back with the same architecture, the same weights
// (BatchNormalization's four tensors, or two without scale and center) and the same logits.
func TestNewLayersRoundTrip(t *testing.T) {
	m, err := ParseConfig([]byte(modern))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"zp": "zp ZeroPadding2D [1 2 0 1]", "bn1": "bn1 BatchNormalization eps=0.001", "r1": "r1 Activation relu",
		"lr": "lr Activation leaky_relu 0.20000000298023224", "ap": "ap AveragePooling2D 2x2/2x2 same", "sm": "sm Activation softmax",
		"cat": "cat Concatenate", "gap": "gap GlobalAveragePooling2D",
	}
	for n, s := range want {
		if got := m.Layer(n).String(); got != s {
			t.Errorf("%s: %q, want %q", n, got, s)
		}
	}
	if bn2 := m.Layer("bn2"); bn2.Scale || bn2.Center || len(bn2.Weights()) != 2 || m.Layer("bn1").Params() != 24 {
		t.Errorf("bn2 %v %v %d", bn2.Scale, bn2.Center, len(bn2.Weights()))
	}
	if s := m.Layer("cat").OutShape; !s.Equal(nn.Shape{13, 9, 10}) {
		t.Errorf("cat %v", s)
	}
	nn.RandomWeights(m, 3)
	dir := t.TempDir()
	pm, pw := filepath.Join(dir, "m.h5"), filepath.Join(dir, "w.h5")
	if err := SaveModel(m, pm); err != nil {
		t.Fatal(err)
	}
	if err := SaveWeights(m, pw); err != nil {
		t.Fatal(err)
	}
	m2, err := LoadModel(pm)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SameArchitecture(m2); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, m, m2)
	m3, _ := ParseConfig([]byte(modern))
	if err := LoadWeights(m3, pw); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, m, m3)
	in, err := Inspect(pw)
	if err != nil {
		t.Fatal(err)
	}
	var bnNames []string
	for _, l := range in.Layers {
		if l.Name == "bn1" {
			for _, tt := range l.Tensors {
				bnNames = append(bnNames, tt.Name)
			}
		}
	}
	if strings.Join(bnNames, " ") != "bn1/gamma:0 bn1/beta:0 bn1/moving_mean:0 bn1/moving_variance:0" {
		t.Errorf("bn1 tensors %v", bnNames)
	}
	// the same logits
	x := make([]float32, 4*m.InputShape().Size())
	r := rand.New(rand.NewSource(1))
	for i := range x {
		x[i] = r.Float32()
	}
	for _, mm := range []*nn.Model{m2, m3} {
		a, _ := host.New(1).Compile(m)
		b, _ := host.New(1).Compile(mm)
		ra, _ := a.Run(map[string][]float32{"in": x}, 4, "sm")
		rb, _ := b.Run(map[string][]float32{"in": x}, 4, "sm")
		for i := range ra[0] {
			if ra[0][i] != rb[0][i] {
				t.Fatalf("logit %d: %v, reloaded %v", i, ra[0][i], rb[0][i])
			}
		}
	}
}

func TestNewLayerConfigErrors(t *testing.T) {
	for _, c := range []struct{ from, to, want string }{
		{`"axis": [3], "momentum"`, `"axis": [1], "momentum"`, `layer "bn1": axis 1 is not supported (only the channel axis, -1)`},
		{`"max_value": null`, `"max_value": 6.0`, `layer "r1": max_value 6.0 is not supported`},
		{`"padding": [[1, 2], [0, 1]]`, `"padding": [[1, -2], [0, 1]]`, `layer "zp": padding [[1,-2],[0,1]]`},
		{`"epsilon": 0.001`, `"epsilon": "x"`, `layer "bn1": option "epsilon" is "x", not a finite number`},
		{`"axis": -1}, "name": "cat"`, `"axis": 1}, "name": "cat"`, `layer "cat": axis 1 is not supported`},
		{`"center": true, "scale": true,`, `"center": true, "scale": true, "renorm": true,`, `layer "bn1": renorm is not supported`},
	} {
		js := strings.Replace(modern, c.from, c.to, 1)
		if js == modern {
			t.Fatalf("%q not in the config", c.from)
		}
		_, err := ParseConfig([]byte(js))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.to, err)
		}
	}
	// explicit (ONNX) padding cannot be written as Keras
	m := nn.PreActResNet(8, 8, 3, []int{4}, []int{1})
	if _, err := MarshalConfig(m); err == nil || !strings.Contains(err.Error(), "explicit (ONNX) padding") {
		t.Errorf("explicit padding marshalled: %v", err)
	}
}
