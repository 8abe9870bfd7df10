package keras

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"goodnet/internal/fixtures"
	"goodnet/internal/h5"
	"goodnet/nn"
)

// realConfig is the model_config of a fixture.
func realConfig(t testing.TB, name string) string {
	t.Helper()
	f, err := h5.Open(fixtures.Path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	js, err := f.AttrString("/", "model_config")
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func wantErr(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want one containing %q", subs)
		return
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

// sameWeights compares every tensor bit for bit.
func sameWeights(t *testing.T, a, b *nn.Model) {
	t.Helper()
	for _, l := range a.Layers {
		k := b.Layer(l.Name)
		if k == nil {
			t.Errorf("layer %q missing", l.Name)
			continue
		}
		for i, pair := range [][2][]float32{{l.W, k.W}, {l.B, k.B}, {l.Gamma, k.Gamma}, {l.Beta, k.Beta}, {l.Mean, k.Mean}, {l.Var, k.Var}} {
			if len(pair[0]) != len(pair[1]) {
				t.Errorf("layer %q tensor %d: %d vs %d values", l.Name, i, len(pair[0]), len(pair[1]))
				continue
			}
			for j := range pair[0] {
				if math.Float32bits(pair[0][j]) != math.Float32bits(pair[1][j]) {
					t.Errorf("layer %q tensor %d value %d: %v vs %v", l.Name, i, j, pair[0][j], pair[1][j])
					break
				}
			}
		}
	}
}

func TestLoadFixtures(t *testing.T) {
	b, err := LoadModel(fixtures.Path(t, "bd_net.h5"))
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.DeepID(55, 47, 1283).SameArchitecture(b); err != nil {
		t.Errorf("bd_net.h5: %v", err)
	}
	if err := b.CheckWeights(); err != nil {
		t.Error(err)
	}
	if b.KerasVersion != "2.4.0" || b.KerasBackend != "tensorflow" || b.Source != fixtures.Path(t, "bd_net.h5") || b.Name != "model_1" {
		t.Errorf("provenance %q %q %q %q", b.KerasVersion, b.KerasBackend, b.Source, b.Name)
	}
	bp, err := LoadModel(fixtures.Path(t, "bprime_2.h5"))
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.DeepID(55, 47, 1283).SameArchitecture(bp); err != nil {
		t.Errorf("bprime_2.h5: %v", err)
	}
	w := nn.DeepID(55, 47, 1283)
	if err := LoadWeights(w, fixtures.Path(t, "bd_weights.h5")); err != nil {
		t.Fatal(err)
	}
	if w.KerasVersion != "2.3.1" || w.KerasBackend != "tensorflow" {
		t.Errorf("bd_weights.h5 provenance %q %q", w.KerasVersion, w.KerasBackend)
	}
	if err := w.CheckWeights(); err != nil {
		t.Error(err)
	}
	sameWeights(t, b, w)
	// The weights of a full model file load into an architecture too.
	w2 := nn.DeepID(55, 47, 1283)
	if err := LoadWeights(w2, fixtures.Path(t, "bd_net.h5")); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, b, w2)

	// B' = B with 45 of conv_3's 60 channels zeroed.
	c3, p3 := b.Layer("conv_3"), bp.Layer("conv_3")
	cout := 60
	zero := 0
	for c := 0; c < cout; c++ {
		allZero, same := p3.B[c] == 0, p3.B[c] == c3.B[c]
		for i := c; i < len(p3.W); i += cout {
			allZero = allZero && p3.W[i] == 0
			same = same && p3.W[i] == c3.W[i]
		}
		if allZero {
			zero++
		} else if !same {
			t.Errorf("conv_3 channel %d is neither zero nor B's", c)
		}
	}
	if zero != 45 {
		t.Errorf("bprime_2.h5: %d zero conv_3 channels, want 45", zero)
	}
	for _, l := range b.Layers {
		if l.Name == "conv_3" || !l.HasWeights() {
			continue
		}
		if !reflect.DeepEqual(l.W, bp.Layer(l.Name).W) || !reflect.DeepEqual(l.B, bp.Layer(l.Name).B) {
			t.Errorf("bprime_2.h5: layer %q differs from B", l.Name)
		}
	}
}

// The config we write is the one Keras 2.4 wrote, but for the initializers we do not keep.
func TestMarshalConfigMatchesKeras(t *testing.T) {
	orig := realConfig(t, "bd_net.h5")
	m, err := ParseConfig([]byte(orig))
	if err != nil {
		t.Fatal(err)
	}
	js, err := MarshalConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(orig,
		`{"class_name": "TruncatedNormal", "config": {"mean": 0.0, "stddev": 0.01, "seed": null}}`,
		`{"class_name": "GlorotUniform", "config": {"seed": null}}`)
	if string(js) != want {
		i := 0
		for i < len(js) && i < len(want) && js[i] == want[i] {
			i++
		}
		t.Errorf("config differs at byte %d:\n got %.120s\nwant %.120s", i, js[i:], want[i:])
	}
	m2, err := ParseConfig(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SameArchitecture(m2); err != nil {
		t.Error(err)
	}
}

func TestSaveWeightsRoundTrip(t *testing.T) {
	b, err := LoadModel(fixtures.Path(t, "bd_net.h5"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "w.h5")
	if err := SaveWeights(b, p); err != nil {
		t.Fatal(err)
	}
	m := nn.DeepID(55, 47, 1283)
	if err := LoadWeights(m, p); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, b, m)
	if m.KerasVersion != "2.4.0" {
		t.Errorf("keras_version %q", m.KerasVersion)
	}
	// Same structure as the weights-only file Keras wrote.
	got, err := Inspect(p)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Inspect(fixtures.Path(t, "bd_weights.h5"))
	if err != nil {
		t.Fatal(err)
	}
	sameStructure(t, got, ref)
	if got.HasArchitecture || got.WeightsGroup != "/" {
		t.Errorf("HasArchitecture %v, WeightsGroup %q", got.HasArchitecture, got.WeightsGroup)
	}
	// No temporary file is left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries", len(ents))
	}
}

func sameStructure(t *testing.T, got, ref *Info) {
	t.Helper()
	if !reflect.DeepEqual(got.Objects, ref.Objects) {
		for i := 0; i < len(got.Objects) || i < len(ref.Objects); i++ {
			var g, r Object
			if i < len(got.Objects) {
				g = got.Objects[i]
			}
			if i < len(ref.Objects) {
				r = ref.Objects[i]
			}
			if !reflect.DeepEqual(g, r) {
				t.Errorf("object %d: got %+v, want %+v", i, g, r)
				break
			}
		}
	}
	if !reflect.DeepEqual(got.Layers, ref.Layers) {
		t.Errorf("layers:\n got %+v\nwant %+v", got.Layers, ref.Layers)
	}
	if len(got.Objects) < 20 {
		t.Errorf("only %d objects", len(got.Objects))
	}
}

func TestSaveModelRoundTrip(t *testing.T) {
	bp, err := LoadModel(fixtures.Path(t, "bprime_2.h5"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "m.h5")
	if err := SaveModel(bp, p); err != nil {
		t.Fatal(err)
	}
	m, err := LoadModel(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := bp.SameArchitecture(m); err != nil {
		t.Error(err)
	}
	sameWeights(t, bp, m)
	got, err := Inspect(p)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := Inspect(fixtures.Path(t, "bprime_2.h5"))
	if err != nil {
		t.Fatal(err)
	}
	sameStructure(t, got, ref)
	if !got.HasArchitecture || got.ModelClass != "Functional" || got.Arch == nil || got.WeightsGroup != "model_weights" {
		t.Errorf("Inspect: %+v", got)
	}
	// Overwriting an existing file works (rename over it).
	if err := SaveModel(m, p); err != nil {
		t.Fatal(err)
	}
}

// Round trips of other architectures: same padding, strides, no bias, dropout, sequential.
func TestRoundTripOtherArchitectures(t *testing.T) {
	seq := `{"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [
	 {"class_name": "Conv2D", "config": {"name": "c1", "trainable": true, "batch_input_shape": [null, 13, 11, 3], "dtype": "float32", "filters": 5, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "relu", "use_bias": true, "kernel_initializer": {"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": null}}, "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}},
	 {"class_name": "MaxPooling2D", "config": {"name": "p1", "trainable": true, "pool_size": [3, 3], "padding": "same", "strides": [2, 1], "data_format": "channels_last"}},
	 {"class_name": "Conv2D", "config": {"name": "c2", "filters": 4, "kernel_size": 2, "strides": 1, "padding": "valid", "activation": "linear", "use_bias": false}},
	 {"class_name": "MaxPooling2D", "config": {"name": "p2", "pool_size": [2, 2], "padding": "valid", "strides": null}},
	 {"class_name": "Flatten", "config": {"name": "f", "data_format": "channels_last"}},
	 {"class_name": "Dropout", "config": {"name": "d", "rate": 0.25, "noise_shape": null, "seed": null}},
	 {"class_name": "Dense", "config": {"name": "out", "units": 7, "activation": "softmax", "use_bias": true}}
	]}}`
	m, err := ParseConfig([]byte(seq))
	if err != nil {
		t.Fatal(err)
	}
	if m.Input.Name != "c1_input" || !m.InputShape().Equal(nn.Shape{13, 11, 3}) || m.Name != "sequential_1" {
		t.Errorf("input %q %v, name %q", m.Input.Name, m.InputShape(), m.Name)
	}
	wantShapes := map[string]nn.Shape{"c1": {7, 6, 5}, "p1": {4, 6, 5}, "c2": {3, 5, 4}, "p2": {1, 2, 4}, "f": {8}, "d": {8}, "out": {7}}
	for n, s := range wantShapes {
		if l := m.Layer(n); l == nil || !l.OutShape.Equal(s) {
			t.Errorf("layer %q: shape %v, want %v", n, l.OutShape, s)
		}
	}
	c1, p1, c2, p2 := m.Layer("c1"), m.Layer("p1"), m.Layer("c2"), m.Layer("p2")
	if c1.Padding != nn.Same || c1.Strides != [2]int{2, 2} || c1.Act != nn.ReLU || !c1.UseBias {
		t.Errorf("c1 %s", c1)
	}
	if p1.Padding != nn.Same || p1.Strides != [2]int{2, 1} || p1.Size != [2]int{3, 3} {
		t.Errorf("p1 %s", p1)
	}
	if c2.UseBias || c2.Size != [2]int{2, 2} || c2.Act != nn.Linear {
		t.Errorf("c2 %s use_bias %v", c2, c2.UseBias)
	}
	if p2.Strides != [2]int{2, 2} {
		t.Errorf("p2 strides %v (null → pool_size)", p2.Strides)
	}
	if m.Layer("d").Rate != 0.25 || m.Output.Act != nn.Softmax {
		t.Errorf("dropout %v, output %s", m.Layer("d").Rate, m.Output)
	}
	nn.RandomWeights(m, 7)
	dir := t.TempDir()
	pw, pm := filepath.Join(dir, "w.h5"), filepath.Join(dir, "m.h5")
	if err := SaveWeights(m, pw); err != nil {
		t.Fatal(err)
	}
	if err := SaveModel(m, pm); err != nil {
		t.Fatal(err)
	}
	m2, err := LoadModel(pm)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SameArchitecture(m2); err != nil {
		t.Error(err)
	}
	sameWeights(t, m, m2)
	m3, _ := ParseConfig([]byte(seq))
	if err := LoadWeights(m3, pw); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, m, m3)
	in, err := Inspect(pw)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Layers) != 8 || in.Layers[3].Name != "c2" || len(in.Layers[3].Tensors) != 1 || in.Layers[3].Tensors[0].Name != "c2/kernel:0" {
		t.Errorf("layers %+v", in.Layers)
	}
}

func TestParseConfigVariants(t *testing.T) {
	// Keras 2.4 Sequential: an explicit InputLayer.
	seq24 := `{"class_name": "Sequential", "config": {"name": "s", "layers": [
	 {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8, 8, 1], "dtype": "float32", "sparse": false, "ragged": false, "name": "in"}},
	 {"class_name": "Flatten", "config": {"name": "f"}},
	 {"class_name": "Dense", "config": {"name": "o", "units": 2}}]}}`
	m, err := ParseConfig([]byte(seq24))
	if err != nil {
		t.Fatal(err)
	}
	if m.Input.Name != "in" || len(m.Layers) != 3 || m.Output.Name != "o" || m.Output.InShape[0] != 64 {
		t.Errorf("sequential 2.4: %v", m.Layers)
	}
	// Keras ≤ 2.2 Sequential: a bare list.
	seq22 := `{"class_name": "Sequential", "config": [
	 {"class_name": "Dense", "config": {"name": "a", "units": 3, "batch_input_shape": [null, 5], "activation": "relu"}},
	 {"class_name": "Activation", "config": {"name": "s", "activation": "softmax"}}]}`
	m, err = ParseConfig([]byte(seq22))
	if err != nil {
		t.Fatal(err)
	}
	if m.Input.Name != "a_input" || !m.InputShape().Equal(nn.Shape{5}) || m.Output.Act != nn.Softmax {
		t.Errorf("sequential 2.2: %v", m.Layers)
	}
	// Keras 3: dict inbound nodes with keras_history, batch_shape, dtype policies.
	k3 := `{"module": "keras", "class_name": "Functional", "config": {"name": "functional", "trainable": true, "layers": [
	 {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 6, 6, 2], "dtype": "float32", "sparse": false, "name": "x"}, "registered_name": null, "name": "x", "inbound_nodes": []},
	 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "c", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "filters": 3, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true}, "registered_name": null, "build_config": {"input_shape": [null, 6, 6, 2]}, "name": "c", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 2], "dtype": "float32", "keras_history": ["x", 0, 0]}}], "kwargs": {}}]},
	 {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "d", "filters": 3, "kernel_size": [1, 1], "padding": "valid", "activation": "linear", "use_bias": true}, "name": "d", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 3], "dtype": "float32", "keras_history": ["c", 0, 0]}}], "kwargs": {}}]},
	 {"module": "keras.layers", "class_name": "Add", "config": {"name": "add", "trainable": true, "dtype": "float32"}, "name": "add", "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 3], "dtype": "float32", "keras_history": ["c", 0, 0]}}, {"class_name": "__keras_tensor__", "config": {"shape": [null, 6, 6, 3], "dtype": "float32", "keras_history": ["d", 0, 0]}}]], "kwargs": {}}]},
	 {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "f", "data_format": "channels_last"}, "name": "f", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["add", 0, 0]}}], "kwargs": {}}]},
	 {"module": "keras.layers", "class_name": "Dense", "config": {"name": "o", "units": 4, "activation": "softmax", "use_bias": true, "lora_rank": null}, "name": "o", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["f", 0, 0]}}], "kwargs": {}}]}
	], "input_layers": ["x", 0, 0], "output_layers": [["o", 0, 0]]}, "registered_name": "Functional"}`
	m, err = ParseConfig([]byte(k3))
	if err != nil {
		t.Fatal(err)
	}
	if add := m.Layer("add"); add == nil || !reflect.DeepEqual(add.InputNames, []string{"c", "d"}) {
		t.Errorf("add inputs %v", add)
	}
	if !m.Layer("c").OutShape.Equal(nn.Shape{6, 6, 3}) || m.Output.InShape[0] != 108 {
		t.Errorf("shapes %v %v", m.Layer("c").OutShape, m.Output.InShape)
	}
	// Class "Model" (Keras 2.2/2.3 full models), int kernel_size, MaxPool2D alias.
	model := `{"class_name": "Model", "config": {"name": "m", "layers": [
	 {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 9, 9, 1], "name": "i"}, "name": "i", "inbound_nodes": []},
	 {"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": 3, "strides": 2, "padding": "valid"}, "name": "c", "inbound_nodes": [[["i", 0, 0, {}]]]},
	 {"class_name": "MaxPooling2D", "config": {"name": "p", "pool_size": 2}, "name": "p", "inbound_nodes": [[["c", 0, 0, {}]]]}],
	 "input_layers": [["i", 0, 0]], "output_layers": [["p", 0, 0]]}}`
	m, err = ParseConfig([]byte(model))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Output.OutShape.Equal(nn.Shape{2, 2, 2}) {
		t.Errorf("Model: output %v", m.Output.OutShape)
	}
}

func TestParseConfigErrors(t *testing.T) {
	orig := realConfig(t, "bd_net.h5")
	conv3 := `"filters": 60, "kernel_size": [3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu"`
	if !strings.Contains(orig, conv3) {
		t.Fatal("conv_3 config not found")
	}
	mod := func(old, new string) string {
		t.Helper()
		if !strings.Contains(orig, old) {
			t.Fatalf("%q not in the config", old)
		}
		return strings.Replace(orig, old, new, 1)
	}
	cases := []struct {
		name, js string
		want     []string
	}{
		{"not json", "{not json", []string{"not valid JSON"}},
		{"trailing", orig + "}", []string{"not valid JSON"}},
		{"array", "[1, 2]", []string{"not an object"}},
		{"class", `{"class_name": "Graph", "config": {}}`, []string{`model class "Graph"`}},
		{"unknown layer", mod(`{"class_name": "Conv2D", "config": {"name": "conv_3"`, `{"class_name": "SeparableConv2D", "config": {"name": "conv_3"`), []string{`layer "conv_3"`, `unsupported layer class "SeparableConv2D"`}},
		{"padding", strings.Replace(orig, conv3, strings.Replace(conv3, `"padding": "valid"`, `"padding": "causal"`, 1), 1), []string{`layer "conv_3": unsupported padding "causal"`}},
		{"activation", strings.Replace(orig, conv3, strings.Replace(conv3, `"activation": "relu"`, `"activation": "tanh"`, 1), 1), []string{`layer "conv_3": unsupported activation "tanh"`}},
		{"dilation", strings.Replace(orig, conv3, strings.Replace(conv3, `"dilation_rate": [1, 1]`, `"dilation_rate": [2, 2]`, 1), 1), []string{`layer "conv_3": unsupported dilation_rate`}},
		{"groups", strings.Replace(orig, conv3, strings.Replace(conv3, `"groups": 1`, `"groups": 2`, 1), 1), []string{`layer "conv_3": unsupported groups 2`}},
		{"data format", strings.Replace(orig, conv3, strings.Replace(conv3, `"data_format": "channels_last"`, `"data_format": "channels_first"`, 1), 1), []string{`layer "conv_3": unsupported data_format "channels_first"`}},
		{"filters", strings.Replace(orig, conv3, strings.Replace(conv3, `"filters": 60`, `"filters": 6.5`, 1), 1), []string{`layer "conv_3"`, `"filters"`, "not an integer"}},
		{"unknown option", mod(`"name": "fc_2", "trainable": true`, `"name": "fc_2", "lora_rank": 4, "trainable": true`), []string{`layer "fc_2": unsupported option "lora_rank"`}},
		{"dangling", mod(`"inbound_nodes": [[["pool_2", 0, 0, {}]]]`, `"inbound_nodes": [[["pool_9", 0, 0, {}]]]`), []string{`layer "conv_3"`, `"pool_9" does not exist`}},
		{"shared", mod(`"inbound_nodes": [[["pool_2", 0, 0, {}]]]`, `"inbound_nodes": [[["pool_2", 0, 0, {}]], [["pool_1", 0, 0, {}]]]`), []string{`layer "conv_3"`, "shared layers"}},
		{"node index", mod(`"inbound_nodes": [[["pool_2", 0, 0, {}]]]`, `"inbound_nodes": [[["pool_2", 1, 0, {}]]]`), []string{`layer "conv_3"`, "node index 1"}},
		{"cycle", mod(`"inbound_nodes": [[["pool_2", 0, 0, {}]]]`, `"inbound_nodes": [[["pool_3", 0, 0, {}]]]`), []string{"cycle"}},
		{"two outputs", mod(`"output_layers": [["output", 0, 0]]`, `"output_layers": [["output", 0, 0], ["fc_1", 0, 0]]`), []string{"output_layers", "single-input"}},
		{"no layers", `{"class_name": "Functional", "config": {"name": "x"}}`, []string{`no "layers"`}},
		{"sequential no shape", `{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {"name": "d", "units": 3}}]}}`, []string{`layer "d"`, "batch_input_shape"}},
		{"dropout rate", mod(`{"class_name": "Activation", "config": {"name": "activation_1", "trainable": true, "dtype": "float32", "activation": "relu"}`, `{"class_name": "Dropout", "config": {"name": "activation_1", "rate": 1.5}`), []string{`layer "activation_1"`, "dropout rate"}},
		{"variable input", mod(`"batch_input_shape": [null, 55, 47, 3]`, `"batch_input_shape": [null, null, null, 3]`), []string{`layer "input"`, "variable dimensions"}},
		{"shape mismatch", mod(`"units": 160, "activation": "linear"`, `"units": 150, "activation": "linear"`), []string{`layer "add_1"`, "different shapes"}},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.js))
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", c.name, err, w)
			}
		}
	}
}

// writeFile builds an HDF5 file with fn.
func writeFile(t *testing.T, path string, fn func(f *h5.File) error) string {
	t.Helper()
	f, err := h5.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// tensorMod changes how writeLayers writes one tensor: skip it, change its shape or its type.
type tensorMod struct {
	layer string
	index int
	skip  bool
	shape []int
	dtype string
	value float32 // written into element 0 when non-zero
}

// writeLayers writes m's weights in the weights-only layout under g, with one tensor modified.
func writeLayers(f *h5.File, m *nn.Model, g string, mod tensorMod) error {
	return WriteLayers(f, m, g, DefaultKerasVersion, func(layer string, ts []*WeightTensor) bool {
		if layer != mod.layer || mod.index >= len(ts) {
			return true
		}
		t := ts[mod.index]
		data := append([]float32(nil), t.Data.([]float32)...)
		if mod.skip {
			t.NoDataset = true
		}
		if mod.shape != nil {
			t.Dims = mod.shape
			data = make([]float32, nn.Shape(mod.shape).Size())
		}
		if mod.value != 0 {
			data[0] = mod.value
		}
		t.Data = data
		switch mod.dtype {
		case h5.Float64:
			d := make([]float64, len(data))
			for j, v := range data {
				d[j] = float64(v)
			}
			t.Elem, t.Data = h5.Float64, d
		case h5.Int64:
			t.Elem, t.Data = h5.Int64, make([]int64, len(data))
		}
		return true
	})
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	b, err := LoadModel(fixtures.Path(t, "bd_net.h5"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(fixtures.Path(t, "bd_net.h5"))
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	orig := realConfig(t, "bd_net.h5")
	model := func(name, config string) string {
		return writeFile(t, filepath.Join(dir, name), func(f *h5.File) error {
			if err := f.SetString("/", "model_config", config, false); err != nil {
				return err
			}
			if err := f.CreateGroup("model_weights"); err != nil {
				return err
			}
			return writeLayers(f, b, "model_weights", tensorMod{})
		})
	}
	weights := func(name string, mod tensorMod) string {
		return writeFile(t, filepath.Join(dir, name), func(f *h5.File) error {
			return writeLayers(f, b, "/", mod)
		})
	}
	missing := filepath.Join(dir, "missing.h5")
	empty := file("empty.h5", nil)
	text := file("text.h5", []byte("hello, not an HDF5 file\n"))
	trunc := file("trunc.h5", raw[:len(raw)/3])
	group := writeFile(t, filepath.Join(dir, "group.h5"), func(f *h5.File) error { return f.CreateGroup("g") })

	// Files that are not (whole) HDF5 files: every entry point says so.
	for _, c := range []struct{ path, want string }{
		{missing, "no such file"}, {dir, "is a directory"}, {empty, "empty file"},
		{text, "not an HDF5 file"}, {trunc, "truncated"},
	} {
		_, err := LoadModel(c.path)
		wantErr(t, err, c.path+": ", c.want)
		wantErr(t, LoadWeights(nn.DeepID(55, 47, 1283), c.path), c.path+": ", c.want)
		_, err = Inspect(c.path)
		wantErr(t, err, c.path+": ", c.want)
	}

	_, err = LoadModel(group)
	wantErr(t, err, group+": ", "no model_config")
	wantErr(t, LoadWeights(nn.DeepID(55, 47, 1283), group), group+": ", "no Keras weights")
	_, err = LoadModel(fixtures.Path(t, "bd_weights.h5"))
	wantErr(t, err, "bd_weights.h5: ", "no architecture")

	p := model("notjson.h5", "{this is not json")
	_, err = LoadModel(p)
	wantErr(t, err, p+": model_config: not valid JSON")
	p = model("unknown.h5", strings.Replace(orig, `{"class_name": "Flatten", "config": {"name": "flatten_2"`, `{"class_name": "GlobalMaxPooling2D", "config": {"name": "flatten_2"`, 1))
	_, err = LoadModel(p)
	wantErr(t, err, p+": model_config: ", `layer "flatten_2"`, `unsupported layer class "GlobalMaxPooling2D"`)
	// Inspect still describes such a file.
	if in, err := Inspect(p); err != nil || !in.HasArchitecture || in.Arch != nil || !strings.Contains(in.ArchErr, "GlobalMaxPooling2D") || len(in.Layers) != 15 || in.ModelClass != "Functional" {
		t.Errorf("Inspect of a file whose config does not load: %v %+v", err, in)
	}
	p = writeFile(t, filepath.Join(dir, "noweights.h5"), func(f *h5.File) error {
		return f.SetString("/", "model_config", orig, false)
	})
	_, err = LoadModel(p)
	wantErr(t, err, p+": ", "no model_weights")
	p = writeFile(t, filepath.Join(dir, "intconfig.h5"), func(f *h5.File) error {
		if err := f.CreateDataset("x", h5.Int64, []int{1}); err != nil {
			return err
		}
		return f.SetEmptyFloats("/", "model_config")
	})
	_, err = LoadModel(p)
	wantErr(t, err, p+": ")

	// Weights that do not fit the architecture.
	for _, c := range []struct {
		name string
		mod  tensorMod
		want []string
	}{
		{"nobias.h5", tensorMod{layer: "conv_3", index: 1, skip: true}, []string{`layer "conv_3"`, `"conv_3/bias:0"`, "not in the file"}},
		{"shape.h5", tensorMod{layer: "conv_3", index: 0, shape: []int{3, 3, 40, 50}}, []string{`layer "conv_3"`, "kernel", "(3, 3, 40, 50)", "needs (3, 3, 40, 60)"}},
		{"rank.h5", tensorMod{layer: "fc_1", index: 1, shape: []int{160, 1}}, []string{`layer "fc_1"`, "bias", "(160, 1)", "needs (160,)"}},
		{"int.h5", tensorMod{layer: "output", index: 0, dtype: h5.Int64}, []string{`layer "output"`, "int64", "want float32 or float64"}},
		{"nan.h5", tensorMod{layer: "fc_2", index: 0, value: float32(math.NaN())}, []string{`layer "fc_2"`, "not finite"}},
	} {
		p := weights(c.name, c.mod)
		m := nn.DeepID(55, 47, 1283)
		err := LoadWeights(m, p)
		wantErr(t, err, append([]string{p + ": "}, c.want...)...)
		for _, l := range m.Layers {
			if l.W != nil || l.B != nil {
				t.Errorf("%s: layer %q got weights despite the error", c.name, l.Name)
			}
		}
	}
	// A missing layer.
	p = writeFile(t, filepath.Join(dir, "nolayer.h5"), func(f *h5.File) error {
		m := b.Clone()
		var keep []*nn.Layer
		for _, l := range m.Layers {
			if l.Name != "conv_4" {
				keep = append(keep, l)
			}
		}
		m.Layers = keep
		return writeLayers(f, m, "/", tensorMod{})
	})
	wantErr(t, LoadWeights(nn.DeepID(55, 47, 1283), p), p+": ", `layer "conv_4"`, "no weights in the file")
	// A wrong number of tensors: the architecture has no bias.
	nb := nn.DeepID(55, 47, 1283)
	nb.Layer("fc_1").UseBias = false
	wantErr(t, LoadWeights(nb, fixtures.Path(t, "bd_weights.h5")), "bd_weights.h5: ", `layer "fc_1"`, "2 weight tensors", "needs 1")

	// float64 weights are accepted and converted.
	p = weights("f64.h5", tensorMod{layer: "conv_1", index: 0, dtype: h5.Float64})
	m := nn.DeepID(55, 47, 1283)
	if err := LoadWeights(m, p); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, b, m)
}

func TestSaveErrors(t *testing.T) {
	dir := t.TempDir()
	m := nn.DeepID(55, 47, 1283)
	p := filepath.Join(dir, "x.h5")
	wantErr(t, SaveWeights(m, p), p+": ", "weights missing")
	nn.RandomWeights(m, 1)
	wantErr(t, SaveWeights(m, dir), dir+": ", "is a directory")
	q := filepath.Join(dir, "nodir", "x.h5")
	wantErr(t, SaveModel(m, q), q+": ")
	if _, err := os.Stat(p); err == nil {
		t.Error("a failed save left a file")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("failed saves left %d files", len(ents))
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, n := range []string{"bd_net.h5", "bprime_2.h5"} {
		f.Add([]byte(realConfig(f, n)))
	}
	f.Add([]byte(`{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Conv2D", "config": {"name": "c", "batch_input_shape": [null, 8, 8, 3], "filters": 2, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"}}, {"class_name": "MaxPooling2D", "config": {"name": "p", "pool_size": [2, 2], "strides": null}}, {"class_name": "Flatten", "config": {"name": "f"}}, {"class_name": "Dropout", "config": {"name": "d", "rate": 0.5}}, {"class_name": "Dense", "config": {"name": "o", "units": 3, "activation": "softmax"}}]}}`))
	f.Add([]byte(`{"class_name": "Functional", "config": {"name": "k3", "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4], "name": "x"}, "name": "x", "inbound_nodes": []}, {"class_name": "Dense", "config": {"name": "a", "units": 4}, "name": "a", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}], "kwargs": {}}]}, {"class_name": "Add", "config": {"name": "s"}, "name": "s", "inbound_nodes": [{"args": [[{"class_name": "__keras_tensor__", "config": {"keras_history": ["a", 0, 0]}}, {"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}]], "kwargs": {}}]}], "input_layers": ["x", 0, 0], "output_layers": [["s", 0, 0]]}}`))
	f.Fuzz(func(t *testing.T, js []byte) {
		m, err := ParseConfig(js)
		if err != nil {
			return
		}
		// A model that parses can be written and parses back to the same architecture.
		out, err := MarshalConfig(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if err := m.SameArchitecture(m2); err != nil {
			t.Fatal(err)
		}
	})
}

// idsAtStart counts the identifiers open before any test (gonum/hdf5 keeps one).
var idsAtStart = h5.OpenIDs()

// Nothing stays open: run last (tests here are not parallel).
func TestZZNoLeaks(t *testing.T) {
	if n := h5.OpenIDs(); n != idsAtStart {
		t.Errorf("%d HDF5 identifiers open, %d before the tests", n, idsAtStart)
	}
}

// Layouts other Keras versions (or hand-made files) use: one-level nesting, weight_names
// that do not give the path, no weight_names, bias listed first, variable-length names.
func TestLoadWeightsLayouts(t *testing.T) {
	b, err := LoadModel(fixtures.Path(t, "bd_net.h5"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, style := range []string{"one-level", "basename", "no-weight-names", "bias-first"} {
		p := writeFile(t, filepath.Join(dir, style+".h5"), func(f *h5.File) error {
			var names []string
			for _, l := range b.Layers {
				names = append(names, l.Name)
			}
			if err := f.SetVarStrings("/", "layer_names", names, true); err != nil {
				return err
			}
			for _, l := range b.Layers {
				if err := f.CreateGroup(l.Name); err != nil {
					return err
				}
				if !l.HasWeights() {
					continue
				}
				ds := []string{"kernel:0", "bias:0"}
				data := [][]float32{l.W, l.B}
				shapes := l.WeightShapes()
				var wn []string
				switch style {
				case "one-level":
					wn = ds
				case "basename":
					wn = []string{"model/" + l.Name + "/kernel:0", "model/" + l.Name + "/bias:0"}
				case "no-weight-names":
					if err := f.CreateGroup(l.Name + "/vars"); err != nil {
						return err
					}
					ds = []string{"vars/kernel", "vars/bias"}
				case "bias-first":
					ds = []string{"bias:0", "kernel:0"}
					data[0], data[1] = data[1], data[0]
					shapes[0], shapes[1] = shapes[1], shapes[0]
					wn = ds
				}
				if wn != nil {
					if err := f.SetVarStrings(l.Name, "weight_names", wn, true); err != nil {
						return err
					}
				}
				for i := range ds {
					q := l.Name + "/" + ds[i]
					if err := f.CreateDataset(q, h5.Float32, shapes[i]); err != nil {
						return err
					}
					if err := f.Write(q, data[i], 0, 0); err != nil {
						return err
					}
				}
			}
			return nil
		})
		m := nn.DeepID(55, 47, 1283)
		if err := LoadWeights(m, p); err != nil {
			t.Errorf("%s: %v", style, err)
			continue
		}
		sameWeights(t, b, m)
	}
}
