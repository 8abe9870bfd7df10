package keras

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"goodnet/nn"
)

// MarshalConfig is m's architecture as the model_config JSON that Keras 2.4's model.save
// writes: class Functional, every layer with the full config Keras writes (default
// initializers, no regularizers), the list format of inbound_nodes, and Python's json.dumps
// formatting. Keras ≥ 2.4 and ParseConfig load it.
func MarshalConfig(m *nn.Model) ([]byte, error) {
	layers := make([]any, 0, len(m.Layers))
	for _, l := range m.Layers {
		cfg, err := layerConfig(l)
		if err != nil {
			return nil, err
		}
		var inbound []any
		if len(l.InputNames) > 0 {
			var node []any
			for _, in := range l.InputNames {
				node = append(node, []any{in, 0, 0, obj{}})
			}
			inbound = []any{node}
		} else {
			inbound = []any{}
		}
		layers = append(layers, obj{
			{"class_name", className(l)},
			{"config", cfg},
			{"name", l.Name},
			{"inbound_nodes", inbound},
		})
	}
	name := m.Name
	if name == "" {
		name = "model"
	}
	top := obj{
		{"class_name", "Functional"},
		{"config", obj{
			{"name", name},
			{"layers", layers},
			{"input_layers", []any{[]any{m.Input.Name, 0, 0}}},
			{"output_layers", []any{[]any{m.Output.Name, 0, 0}}},
		}},
	}
	var b bytes.Buffer
	if err := pyJSON(&b, top); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func pair(p [2]int) []any { return []any{p[0], p[1]} }

var (
	glorot = obj{{"class_name", "GlorotUniform"}, {"config", obj{{"seed", nil}}}}
	zeros  = obj{{"class_name", "Zeros"}, {"config", obj{}}}
)

// className is the Keras class of a layer: its kind's, but LeakyReLU for a leaky-ReLU
// activation (ReLU and Softmax layers are written as Activation layers, which compute the same).
func className(l *nn.Layer) string {
	if l.Kind == nn.Act && l.Act == nn.LeakyReLU {
		return "LeakyReLU"
	}
	return l.Kind.String()
}

func layerConfig(l *nn.Layer) (obj, error) {
	head := obj{{"name", l.Name}, {"trainable", true}, {"dtype", "float32"}}
	if l.Padding == nn.Explicit {
		return nil, fmt.Errorf("layer %q: explicit (ONNX) padding %v has no Keras form", l.Name, l.Pad)
	}
	weighted := func(o obj) obj {
		return append(o,
			kv{"activation", l.Act.String()},
			kv{"use_bias", l.UseBias},
			kv{"kernel_initializer", glorot},
			kv{"bias_initializer", zeros},
			kv{"kernel_regularizer", nil},
			kv{"bias_regularizer", nil},
			kv{"activity_regularizer", nil},
			kv{"kernel_constraint", nil},
			kv{"bias_constraint", nil})
	}
	switch l.Kind {
	case nn.Input:
		shape := []any{nil}
		for _, d := range l.InShape {
			shape = append(shape, d)
		}
		return obj{{"batch_input_shape", shape}, {"dtype", "float32"}, {"sparse", false}, {"ragged", false}, {"name", l.Name}}, nil
	case nn.Conv2D:
		return weighted(append(head,
			kv{"filters", l.Filters},
			kv{"kernel_size", pair(l.Size)},
			kv{"strides", pair(l.Strides)},
			kv{"padding", l.Padding.String()},
			kv{"data_format", "channels_last"},
			kv{"dilation_rate", []any{1, 1}},
			kv{"groups", 1})), nil
	case nn.MaxPool2D:
		return append(head,
			kv{"pool_size", pair(l.Size)},
			kv{"padding", l.Padding.String()},
			kv{"strides", pair(l.Strides)},
			kv{"data_format", "channels_last"}), nil
	case nn.Flatten:
		return append(head, kv{"data_format", "channels_last"}), nil
	case nn.Dense:
		return weighted(append(head, kv{"units", l.Units})), nil
	case nn.Add:
		return head, nil
	case nn.Act:
		if l.Act == nn.LeakyReLU {
			return append(head, kv{"alpha", l.Alpha}), nil
		}
		return append(head, kv{"activation", l.Act.String()}), nil
	case nn.BatchNorm:
		ones := obj{{"class_name", "Ones"}, {"config", obj{}}}
		return append(head,
			kv{"axis", []any{3}}, kv{"momentum", 0.99}, kv{"epsilon", l.Eps}, kv{"center", l.Center}, kv{"scale", l.Scale},
			kv{"beta_initializer", zeros}, kv{"gamma_initializer", ones}, kv{"moving_mean_initializer", zeros},
			kv{"moving_variance_initializer", ones}, kv{"beta_regularizer", nil}, kv{"gamma_regularizer", nil},
			kv{"beta_constraint", nil}, kv{"gamma_constraint", nil}), nil
	case nn.GlobalAvgPool:
		return append(head, kv{"data_format", "channels_last"}, kv{"keepdims", l.KeepDims}), nil
	case nn.AvgPool2D:
		if l.CountPad && l.Padding == nn.Same {
			return nil, fmt.Errorf("layer %q: average pooling that counts padded positions has no Keras form", l.Name)
		}
		return append(head,
			kv{"pool_size", pair(l.Size)},
			kv{"padding", l.Padding.String()},
			kv{"strides", pair(l.Strides)},
			kv{"data_format", "channels_last"}), nil
	case nn.ZeroPad2D:
		return append(head, kv{"padding", []any{[]any{l.Pad[0], l.Pad[1]}, []any{l.Pad[2], l.Pad[3]}}}, kv{"data_format", "channels_last"}), nil
	case nn.Concat:
		return append(head, kv{"axis", -1}), nil
	case nn.Dropout:
		return append(head, kv{"rate", l.Rate}, kv{"noise_shape", nil}, kv{"seed", nil}), nil
	}
	return nil, fmt.Errorf("layer %q: cannot write a %s layer", l.Name, l.Kind)
}

// kv and obj are an ordered JSON object.
type kv struct {
	k string
	v any
}

type obj []kv

// pyJSON writes v as Python's json.dumps does (", " and ": " separators, ASCII only).
func pyJSON(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("cannot write %v in a config", x)
		}
		b.WriteString(pyFloat(x))
	case string:
		pyString(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := pyJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case obj:
		b.WriteByte('{')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			pyString(b, e.k)
			b.WriteString(": ")
			if err := pyJSON(b, e.v); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("pyJSON: unsupported %T", v)
	}
	return nil
}

// pyFloat formats like Python's repr of a float.
func pyFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	abs := math.Abs(f)
	if abs >= 1e-4 && abs < 1e16 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1e-05 → "1e-05" as Python
	return s
}

func pyString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r > 0x7f && r < 0x10000):
			b.WriteString(`\u`)
			b.WriteByte(hex[r>>12&15])
			b.WriteByte(hex[r>>8&15])
			b.WriteByte(hex[r>>4&15])
			b.WriteByte(hex[r&15])
		case r >= 0x10000:
			r -= 0x10000
			hi, lo := 0xd800+(r>>10), 0xdc00+(r&0x3ff)
			for _, u := range []rune{hi, lo} {
				b.WriteString(`\u`)
				b.WriteByte(hex[u>>12&15])
				b.WriteByte(hex[u>>8&15])
				b.WriteByte(hex[u>>4&15])
				b.WriteByte(hex[u&15])
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// MarshalConfig3 is m's architecture as the config.json of a Keras 3 .keras archive: class
// Functional, layer configs as Keras 3 names their options (batch_shape, negative_slope, an
// integer BatchNormalization axis), inbound nodes as {"args": [...keras tensors...]} with
// keras_history references. ParseConfig and Keras 3 load it.
func MarshalConfig3(m *nn.Model) ([]byte, error) {
	ref := func(l *nn.Layer) obj {
		shape := []any{nil}
		for _, d := range l.OutShape {
			shape = append(shape, d)
		}
		return obj{{"class_name", "__keras_tensor__"}, {"config", obj{
			{"shape", shape}, {"dtype", "float32"}, {"keras_history", []any{l.Name, 0, 0}}}}}
	}
	layers := make([]any, 0, len(m.Layers))
	for _, l := range m.Layers {
		cfg, err := layerConfig(l)
		if err != nil {
			return nil, err
		}
		switch {
		case l.Kind == nn.Input:
			shape := []any{nil}
			for _, d := range l.InShape {
				shape = append(shape, d)
			}
			cfg = obj{{"batch_shape", shape}, {"dtype", "float32"}, {"sparse", false}, {"name", l.Name}}
		case l.Kind == nn.Act && l.Act == nn.LeakyReLU:
			cfg = cfg.set("alpha", "negative_slope", l.Alpha)
		case l.Kind == nn.BatchNorm:
			cfg = cfg.set("axis", "axis", -1)
		}
		inbound := []any{}
		if len(l.Inputs) == 1 {
			inbound = []any{obj{{"args", []any{ref(l.Inputs[0])}}, {"kwargs", obj{}}}}
		} else if len(l.Inputs) > 1 {
			var refs []any
			for _, in := range l.Inputs {
				refs = append(refs, ref(in))
			}
			inbound = []any{obj{{"args", []any{refs}}, {"kwargs", obj{}}}}
		}
		layers = append(layers, obj{
			{"module", "keras.layers"},
			{"class_name", className(l)},
			{"config", cfg},
			{"registered_name", nil},
			{"name", l.Name},
			{"inbound_nodes", inbound},
		})
	}
	name := m.Name
	if name == "" {
		name = "model"
	}
	top := obj{
		{"module", "keras"},
		{"class_name", "Functional"},
		{"config", obj{
			{"name", name},
			{"trainable", true},
			{"layers", layers},
			{"input_layers", []any{[]any{m.Input.Name, 0, 0}}},
			{"output_layers", []any{[]any{m.Output.Name, 0, 0}}},
		}},
		{"registered_name", "Functional"},
	}
	var b bytes.Buffer
	if err := pyJSON(&b, top); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// set replaces key old by key new with value v (appending it when old is absent).
func (o obj) set(old, key string, v any) obj {
	for i := range o {
		if o[i].k == old {
			o[i] = kv{key, v}
			return o
		}
	}
	return append(o, kv{key, v})
}
