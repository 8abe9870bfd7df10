package keras

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"goodnet/nn"
)

// The layer classes of a model_config and what each becomes in nn.

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
		for k := range trainingOnly {
			o.get(k)
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
