package keras

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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
		return nil, fmt.Errorf("not valid JSON: %w", err)
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
			return nil, fmt.Errorf("layer %q: %w", l.Name, err)
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
