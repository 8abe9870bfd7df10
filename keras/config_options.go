package keras

import (
	"encoding/json"
	"fmt"
	"math"
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
