package keras

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"goodnet/nn"
)

// ParseConfig builds the architecture (no weights) from a Keras model_config JSON:
// class Model or Functional (layers with inbound_nodes in the list format of Keras 2 or the
// args/keras_history format of Keras 3) or Sequential (Keras 2.3: the first layer carries
// batch_input_shape; 2.4: an explicit InputLayer; ≤ 2.2: a bare list of layers).
//
// Supported layers: InputLayer, Conv2D, MaxPooling2D, Flatten, Dense, Add, Activation and
// Dropout, with the options goodnet's engines implement; anything else is an error naming the
// layer, e.g. `layer "conv_3": unsupported padding "causal"`. Options that do not change
// inference (initializers, regularizers, constraints, trainable, dtype) are ignored; other
// unknown options are errors unless null.
func ParseConfig(js []byte) (*nn.Model, error) {
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	var top any
	if err := d.Decode(&top); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("not valid JSON: data after the top-level value")
	}
	o, ok := top.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the model config is a JSON %s, not an object", jsonKind(top))
	}
	class, ok := o["class_name"].(string)
	if !ok {
		return nil, errors.New(`the model config has no "class_name"`)
	}
	cfg, hasCfg := o["config"]
	if !hasCfg {
		return nil, errors.New(`the model config has no "config"`)
	}
	switch class {
	case "Model", "Functional":
		c, ok := cfg.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s config is a JSON %s, not an object", class, jsonKind(cfg))
		}
		return parseFunctional(c)
	case "Sequential":
		return parseSequential(cfg)
	}
	return nil, fmt.Errorf("model class %q is not supported (Model, Functional, Sequential)", class)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func modelName(c map[string]any, def string) string {
	if n, ok := c["name"].(string); ok && n != "" {
		return n
	}
	return def
}

func parseFunctional(c map[string]any) (*nn.Model, error) {
	list, ok := c["layers"].([]any)
	if !ok {
		return nil, errors.New(`the model config has no "layers" list`)
	}
	var layers []*nn.Layer
	for i, e := range list {
		entry, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("layer %d is a JSON %s, not an object", i, jsonKind(e))
		}
		l, _, err := parseLayer(entry, i)
		if err != nil {
			return nil, err
		}
		ins, err := inboundNames(entry["inbound_nodes"])
		if err != nil {
			return nil, fmt.Errorf("layer %q: %v", l.Name, err)
		}
		l.InputNames = ins
		layers = append(layers, l)
	}
	in, err := endpoint(c["input_layers"], "input_layers")
	if err != nil {
		return nil, err
	}
	out, err := endpoint(c["output_layers"], "output_layers")
	if err != nil {
		return nil, err
	}
	return nn.New(modelName(c, "model"), layers, in, out)
}

// endpoint reads input_layers/output_layers: [["name", 0, 0]] or ["name", 0, 0]; exactly one.
func endpoint(v any, key string) (string, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return "", fmt.Errorf("the model config has no %q", key)
	}
	if _, single := list[0].(string); single {
		list = []any{list}
	}
	if len(list) != 1 {
		return "", fmt.Errorf("%s: %d entries; only single-input, single-output models are supported", key, len(list))
	}
	name, err := tensorRef(list[0])
	if err != nil {
		return "", fmt.Errorf("%s: %v", key, err)
	}
	return name, nil
}

// tensorRef reads ["name", node_index, tensor_index, ...]; both indices must be 0 (every
// supported layer is called once and has one output).
func tensorRef(v any) (string, error) {
	ref, ok := v.([]any)
	if !ok || len(ref) < 3 {
		return "", fmt.Errorf("bad reference %s (want [name, node, tensor])", short(v))
	}
	name, ok := ref[0].(string)
	if !ok {
		return "", fmt.Errorf("bad reference %s (want [name, node, tensor])", short(v))
	}
	for i, what := range []string{"node index", "tensor index"} {
		n, err := toInt(ref[1+i])
		if err != nil {
			return "", fmt.Errorf("reference to %q: %s %v", name, what, err)
		}
		if n != 0 {
			return "", fmt.Errorf("reference to %q: %s %d (shared layers and multi-output layers are not supported)", name, what, n)
		}
	}
	return name, nil
}

func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}

// inboundNames reads a layer's inbound_nodes: [] for inputs; [[["a",0,0,{}], ...]] (Keras 2);
// [{"args": [...], "kwargs": {...}}] with keras_history references (Keras 3).
func inboundNames(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	nodes, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("inbound_nodes is a JSON %s, not an array", jsonKind(v))
	}
	if len(nodes) == 0 {
		return nil, nil
	}
	if len(nodes) > 1 {
		return nil, fmt.Errorf("the layer is called %d times (shared layers are not supported)", len(nodes))
	}
	var names []string
	switch node := nodes[0].(type) {
	case []any:
		for _, r := range node {
			n, err := tensorRef(r)
			if err != nil {
				return nil, fmt.Errorf("inbound_nodes: %v", err)
			}
			names = append(names, n)
		}
	case map[string]any:
		var walk func(v any, depth int) error
		walk = func(v any, depth int) error {
			if depth > 8 {
				return errors.New("inbound_nodes: arguments nested too deeply")
			}
			switch x := v.(type) {
			case []any:
				for _, e := range x {
					if err := walk(e, depth+1); err != nil {
						return err
					}
				}
			case map[string]any:
				if x["class_name"] == "__keras_tensor__" {
					cfg, _ := x["config"].(map[string]any)
					n, err := tensorRef(cfg["keras_history"])
					if err != nil {
						return fmt.Errorf("inbound_nodes: keras_history: %v", err)
					}
					names = append(names, n)
				}
			}
			return nil
		}
		if err := walk(node["args"], 0); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("inbound_nodes: node is a JSON %s", jsonKind(node))
	}
	if len(names) == 0 {
		return nil, errors.New("inbound_nodes: a node without inputs")
	}
	return names, nil
}

func parseSequential(cfg any) (*nn.Model, error) {
	name := "sequential"
	var list []any
	switch c := cfg.(type) {
	case []any: // Keras ≤ 2.2
		list = c
	case map[string]any:
		name = modelName(c, name)
		l, ok := c["layers"].([]any)
		if !ok {
			return nil, errors.New(`the Sequential config has no "layers" list`)
		}
		list = l
	default:
		return nil, fmt.Errorf("Sequential config is a JSON %s", jsonKind(cfg))
	}
	if len(list) == 0 {
		return nil, errors.New("the Sequential model has no layers")
	}
	var layers []*nn.Layer
	for i, e := range list {
		entry, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("layer %d is a JSON %s, not an object", i, jsonKind(e))
		}
		l, batchShape, err := parseLayer(entry, i)
		if err != nil {
			return nil, err
		}
		if i == 0 && l.Kind != nn.Input {
			if batchShape == nil {
				return nil, fmt.Errorf("layer %q: the first layer of a Sequential model has no batch_input_shape", l.Name)
			}
			layers = append(layers, &nn.Layer{Name: l.Name + "_input", Kind: nn.Input, InShape: batchShape})
		}
		if i > 0 && l.Kind == nn.Input {
			return nil, fmt.Errorf("layer %q: an InputLayer in the middle of a Sequential model", l.Name)
		}
		if len(layers) > 0 {
			l.InputNames = []string{layers[len(layers)-1].Name}
		}
		layers = append(layers, l)
	}
	return nn.New(name, layers, layers[0].Name, layers[len(layers)-1].Name)
}

// opts reads one layer's config, remembering which keys were used.
type opts struct {
	layer string
	m     map[string]any
	used  map[string]bool
}

func (o *opts) errf(format string, a ...any) error {
	return fmt.Errorf("layer %q: %s", o.layer, fmt.Sprintf(format, a...))
}

func (o *opts) get(key string) (any, bool) {
	o.used[key] = true
	v, ok := o.m[key]
	return v, ok && v != nil
}

func (o *opts) str(key, def string) (string, error) {
	v, ok := o.get(key)
	if !ok {
		return def, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", o.errf("option %q is a JSON %s, not a string", key, jsonKind(v))
	}
	return s, nil
}

func (o *opts) boolean(key string, def bool) (bool, error) {
	v, ok := o.get(key)
	if !ok {
		return def, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, o.errf("option %q is a JSON %s, not a boolean", key, jsonKind(v))
	}
	return b, nil
}

// integer reads a positive integer option.
func (o *opts) integer(key string) (int, error) {
	v, ok := o.get(key)
	if !ok {
		return 0, o.errf("option %q is missing", key)
	}
	n, err := toInt(v)
	if err != nil {
		return 0, o.errf("option %q: %v", key, err)
	}
	if n <= 0 {
		return 0, o.errf("option %q is %d, must be positive", key, n)
	}
	return n, nil
}

// pair reads an option that is an integer or a list of two (kernel_size, strides, ...).
func (o *opts) pair(key string, def *[2]int) ([2]int, error) {
	v, ok := o.get(key)
	if !ok {
		if def != nil {
			return *def, nil
		}
		return [2]int{}, o.errf("option %q is missing", key)
	}
	var p [2]int
	if list, isList := v.([]any); isList {
		if len(list) != 2 {
			return p, o.errf("option %q has %d values, want 2", key, len(list))
		}
		for i := range p {
			n, err := toInt(list[i])
			if err != nil {
				return p, o.errf("option %q: %v", key, err)
			}
			p[i] = n
		}
	} else {
		n, err := toInt(v)
		if err != nil {
			return p, o.errf("option %q: %v", key, err)
		}
		p = [2]int{n, n}
	}
	if p[0] <= 0 || p[1] <= 0 {
		return p, o.errf("option %q is %v, must be positive", key, p)
	}
	return p, nil
}

const maxInt = 1 << 20

func toInt(v any) (int, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s is not an integer", short(v))
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(num), 64)
		if ferr != nil || f != math.Trunc(f) {
			return 0, fmt.Errorf("%s is not an integer", num)
		}
		if math.Abs(f) > maxInt {
			return 0, fmt.Errorf("%s is too large", num)
		}
		n = int64(f)
	}
	if n > maxInt || n < -maxInt {
		return 0, fmt.Errorf("%d is too large", n)
	}
	return int(n), nil
}

func (o *opts) activation() (nn.Activation, error) {
	v, ok := o.get("activation")
	if !ok {
		return nn.Linear, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return 0, o.errf("unsupported activation %s (supported: linear, relu, softmax)", short(v))
	}
	a, err := nn.ParseActivation(s)
	if err != nil {
		return 0, o.errf("%v", err)
	}
	return a, nil
}

func (o *opts) padding() (nn.Padding, error) {
	s, err := o.str("padding", "valid")
	if err != nil {
		return 0, err
	}
	p, err := nn.ParsePadding(strings.ToLower(s))
	if err != nil {
		return 0, o.errf("%v", err)
	}
	return p, nil
}

func (o *opts) channelsLast() error {
	s, err := o.str("data_format", "channels_last")
	if err != nil {
		return err
	}
	if s != "channels_last" {
		return o.errf("unsupported data_format %q (only channels_last)", s)
	}
	return nil
}

// Classes are the Keras layer classes ParseConfig reads.
var Classes = []string{"InputLayer", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
	"ZeroPadding2D", "BatchNormalization", "Flatten", "Dense", "Add", "Concatenate", "Activation", "ReLU", "LeakyReLU",
	"Softmax", "Dropout"}

// number reads a float option.
func (o *opts) number(key string, def float64) (float64, error) {
	v, ok := o.get(key)
	if !ok {
		return def, nil
	}
	num, isNum := v.(json.Number)
	f, err := strconv.ParseFloat(string(num), 64)
	if !isNum || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, o.errf("option %q is %s, not a finite number", key, short(v))
	}
	return f, nil
}

// channelAxis reads an axis option that must be the channel axis (-1, or 3 of an image).
func (o *opts) channelAxis(key string) error {
	v, ok := o.get(key)
	if !ok {
		return nil
	}
	if list, isList := v.([]any); isList && len(list) == 1 {
		v = list[0] // Keras 2.x BatchNormalization writes [3]
	}
	n, err := toInt(v)
	if err != nil || (n != -1 && n != 3) {
		return o.errf("%s %s is not supported (only the channel axis, -1)", key, short(v))
	}
	return nil
}

// zeroPadding reads ZeroPadding2D's padding: n, (h, w) or ((top, bottom), (left, right)).
func (o *opts) zeroPadding() ([4]int, error) {
	var p [4]int
	v, ok := o.get("padding")
	if !ok {
		return [4]int{1, 1, 1, 1}, nil
	}
	bad := o.errf("padding %s: want n, [h, w] or [[top, bottom], [left, right]] of integers ≥ 0", short(v))
	nat := func(x any) (int, bool) {
		n, err := toInt(x)
		return n, err == nil && n >= 0
	}
	if n, isInt := nat(v); isInt {
		return [4]int{n, n, n, n}, nil
	}
	list, isList := v.([]any)
	if !isList || len(list) != 2 {
		return p, bad
	}
	for i, e := range list {
		if n, isInt := nat(e); isInt {
			p[2*i], p[2*i+1] = n, n
			continue
		}
		pair, isPair := e.([]any)
		if !isPair || len(pair) != 2 {
			return p, bad
		}
		for j := range pair {
			n, isInt := nat(pair[j])
			if !isInt {
				return p, bad
			}
			p[2*i+j] = n
		}
	}
	return p, nil
}

// ignored options: they do not change inference.
var ignored = map[string]bool{
	"name": true, "trainable": true, "dtype": true,
	"kernel_initializer": true, "bias_initializer": true,
	"kernel_regularizer": true, "bias_regularizer": true, "activity_regularizer": true,
	"kernel_constraint": true, "bias_constraint": true,
	"batch_input_shape": true, "batch_size": true, "input_dim": true,
}

// finish rejects options that were not read, unless they are ignored or null.
func (o *opts) finish() error {
	for k, v := range o.m {
		if o.used[k] || ignored[k] || v == nil {
			continue
		}
		return o.errf("unsupported option %q = %s", k, short(v))
	}
	return nil
}

// batchShape reads batch_input_shape (Keras 2) or batch_shape (Keras 3): [null, dims...].
func (o *opts) batchShape(required bool) (nn.Shape, error) {
	v, ok := o.get("batch_input_shape")
	if !ok {
		v, ok = o.get("batch_shape")
	}
	if !ok {
		if required {
			return nil, o.errf("no batch_input_shape")
		}
		return nil, nil
	}
	list, isList := v.([]any)
	if !isList || len(list) < 2 {
		return nil, o.errf("batch_input_shape %s: want [null, dims...]", short(v))
	}
	var s nn.Shape
	for _, d := range list[1:] {
		if d == nil {
			return nil, o.errf("batch_input_shape %s: variable dimensions are not supported", short(v))
		}
		n, err := toInt(d)
		if err != nil {
			return nil, o.errf("batch_input_shape: %v", err)
		}
		if n <= 0 {
			return nil, o.errf("batch_input_shape %s: dimensions must be positive", short(v))
		}
		s = append(s, n)
	}
	return s, nil
}

// parseLayer reads one layer entry {"class_name", "config", "name"?}. It returns the layer
// and, for the first layer of a Sequential model, its batch_input_shape (if any).
func parseLayer(entry map[string]any, index int) (*nn.Layer, nn.Shape, error) {
	class, ok := entry["class_name"].(string)
	if !ok {
		return nil, nil, fmt.Errorf("layer %d has no class_name", index)
	}
	cfg, ok := entry["config"].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("layer %d (%s) has no config object", index, class)
	}
	name, _ := cfg["name"].(string)
	if outer, ok := entry["name"].(string); ok {
		if name != "" && name != outer {
			return nil, nil, fmt.Errorf("layer %q: config names it %q", outer, name)
		}
		name = outer
	}
	if name == "" {
		return nil, nil, fmt.Errorf("layer %d (%s) has no name", index, class)
	}
	o := &opts{layer: name, m: cfg, used: map[string]bool{}}
	l := &nn.Layer{Name: name}
	var err error
	var batch nn.Shape
	switch class {
	case "InputLayer":
		l.Kind = nn.Input
		if l.InShape, err = o.batchShape(true); err != nil {
			return nil, nil, err
		}
		for _, k := range []string{"sparse", "ragged", "optional"} {
			b, err := o.boolean(k, false)
			if err != nil {
				return nil, nil, err
			}
			if b {
				return nil, nil, o.errf("%s inputs are not supported", k)
			}
		}
	case "Conv2D", "Convolution2D":
		l.Kind = nn.Conv2D
		if l.Filters, err = o.integer("filters"); err != nil {
			return nil, nil, err
		}
		if l.Size, err = o.pair("kernel_size", nil); err != nil {
			return nil, nil, err
		}
		if l.Strides, err = o.pair("strides", &[2]int{1, 1}); err != nil {
			return nil, nil, err
		}
		if l.Padding, err = o.padding(); err != nil {
			return nil, nil, err
		}
		if err = o.channelsLast(); err != nil {
			return nil, nil, err
		}
		dil, err := o.pair("dilation_rate", &[2]int{1, 1})
		if err != nil {
			return nil, nil, err
		}
		if dil != [2]int{1, 1} {
			return nil, nil, o.errf("unsupported dilation_rate %v (only 1)", dil)
		}
		if v, ok := o.get("groups"); ok {
			if g, err := toInt(v); err != nil || g != 1 {
				return nil, nil, o.errf("unsupported groups %s (only 1)", short(v))
			}
		}
		if l.Act, err = o.activation(); err != nil {
			return nil, nil, err
		}
		if l.UseBias, err = o.boolean("use_bias", true); err != nil {
			return nil, nil, err
		}
	case "MaxPooling2D", "MaxPool2D":
		l.Kind = nn.MaxPool2D
		if l.Size, err = o.pair("pool_size", &[2]int{2, 2}); err != nil {
			return nil, nil, err
		}
		if l.Strides, err = o.pair("strides", &l.Size); err != nil {
			return nil, nil, err
		}
		if l.Padding, err = o.padding(); err != nil {
			return nil, nil, err
		}
		if err = o.channelsLast(); err != nil {
			return nil, nil, err
		}
	case "Flatten":
		l.Kind = nn.Flatten
		if err = o.channelsLast(); err != nil {
			return nil, nil, err
		}
	case "Dense":
		l.Kind = nn.Dense
		if l.Units, err = o.integer("units"); err != nil {
			return nil, nil, err
		}
		if l.Act, err = o.activation(); err != nil {
			return nil, nil, err
		}
		if l.UseBias, err = o.boolean("use_bias", true); err != nil {
			return nil, nil, err
		}
	case "Add":
		l.Kind = nn.Add
	case "Activation":
		l.Kind = nn.Act
		if _, ok := o.m["activation"]; !ok {
			return nil, nil, o.errf("option \"activation\" is missing")
		}
		if l.Act, err = o.activation(); err != nil {
			return nil, nil, err
		}
	case "Dropout":
		l.Kind = nn.Dropout
		v, ok := o.get("rate")
		if ok {
			num, isNum := v.(json.Number)
			r, perr := strconv.ParseFloat(string(num), 64)
			if !isNum || perr != nil || !(r >= 0 && r < 1) {
				return nil, nil, o.errf("dropout rate %s must be in [0, 1)", short(v))
			}
			l.Rate = r
		}
		o.get("noise_shape") // identity at inference whatever they are
		o.get("seed")
	case "BatchNormalization":
		l.Kind = nn.BatchNorm
		if err = o.channelAxis("axis"); err != nil {
			return nil, nil, err
		}
		if l.Eps, err = o.number("epsilon", 1e-3); err != nil {
			return nil, nil, err
		}
		if l.Center, err = o.boolean("center", true); err != nil {
			return nil, nil, err
		}
		if l.Scale, err = o.boolean("scale", true); err != nil {
			return nil, nil, err
		}
		for _, k := range []string{"renorm", "synchronized"} {
			if b, err := o.boolean(k, false); err != nil || b {
				if err != nil {
					return nil, nil, err
				}
				return nil, nil, o.errf("%s is not supported", k)
			}
		}
		for _, k := range []string{"momentum", "beta_initializer", "gamma_initializer", "moving_mean_initializer",
			"moving_variance_initializer", "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
			"fused", "renorm_clipping", "renorm_momentum"} {
			o.get(k) // training only
		}
	case "GlobalAveragePooling2D", "GlobalAvgPool2D":
		l.Kind = nn.GlobalAvgPool
		if err = o.channelsLast(); err != nil {
			return nil, nil, err
		}
		if l.KeepDims, err = o.boolean("keepdims", false); err != nil {
			return nil, nil, err
		}
	case "AveragePooling2D", "AvgPool2D":
		l.Kind = nn.AvgPool2D
		if l.Size, err = o.pair("pool_size", &[2]int{2, 2}); err != nil {
			return nil, nil, err
		}
		if l.Strides, err = o.pair("strides", &l.Size); err != nil {
			return nil, nil, err
		}
		if l.Padding, err = o.padding(); err != nil {
			return nil, nil, err
		}
		if err = o.channelsLast(); err != nil {
			return nil, nil, err
		}
	case "ZeroPadding2D":
		l.Kind = nn.ZeroPad2D
		if l.Pad, err = o.zeroPadding(); err != nil {
			return nil, nil, err
		}
		if err = o.channelsLast(); err != nil {
			return nil, nil, err
		}
	case "ReLU":
		l.Kind, l.Act = nn.Act, nn.ReLU
		if v, ok := o.get("max_value"); ok {
			return nil, nil, o.errf("max_value %s is not supported (only none)", short(v))
		}
		th, err := o.number("threshold", 0)
		if err != nil {
			return nil, nil, err
		}
		if th != 0 {
			return nil, nil, o.errf("threshold %g is not supported (only 0)", th)
		}
		if l.Alpha, err = o.number("negative_slope", 0); err != nil {
			return nil, nil, err
		}
		if l.Alpha != 0 {
			l.Act = nn.LeakyReLU
		}
	case "LeakyReLU":
		l.Kind, l.Act = nn.Act, nn.LeakyReLU
		key := "alpha" // Keras 2; Keras 3: negative_slope
		if _, ok := o.m["negative_slope"]; ok {
			key = "negative_slope"
		}
		if l.Alpha, err = o.number(key, 0.3); err != nil {
			return nil, nil, err
		}
	case "Softmax":
		l.Kind, l.Act = nn.Act, nn.Softmax
		if err = o.channelAxis("axis"); err != nil {
			return nil, nil, err
		}
	case "Concatenate":
		l.Kind = nn.Concat
		if err = o.channelAxis("axis"); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("layer %q: unsupported layer class %q (supported: %s)", name, class, strings.Join(Classes, ", "))
	}
	if l.Kind != nn.Input {
		// The first layer of a Sequential model declares the input shape.
		if batch, err = o.batchShape(false); err != nil {
			return nil, nil, err
		}
	}
	if err := o.finish(); err != nil {
		return nil, nil, err
	}
	return l, batch, nil
}
