package keras

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"goodnet/nn"
)

// The options of one layer's config, read strictly: typed getters that remember the keys
// used, so that an unknown option is an error (finish).

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

// trainingOnly are BatchNormalization's options that only training reads.
var trainingOnly = map[string]bool{"momentum": true, "beta_initializer": true, "gamma_initializer": true,
	"moving_mean_initializer": true, "moving_variance_initializer": true, "beta_regularizer": true,
	"gamma_regularizer": true, "beta_constraint": true, "gamma_constraint": true, "fused": true,
	"renorm_clipping": true, "renorm_momentum": true}

// finish rejects options that were not read, unless they are ignored or null.
func (o *opts) finish() error {
	keys := make([]string, 0, len(o.m))
	for k := range o.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if o.used[k] || ignored[k] || o.m[k] == nil {
			continue
		}
		return o.errf("unsupported option %q = %s", k, short(o.m[k]))
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
