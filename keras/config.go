package keras

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"goodnet/internal/resource"
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
	// Decoding keeps the text of each level and the options it reads: a few times the size.
	if err := resource.Check(4*int64(len(js)), fmt.Sprintf("a model config of %d bytes", len(js))); err != nil {
		return nil, err
	}
	var top object
	if err := json.Unmarshal(js, &top); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field == "" {
			kind := map[string]string{"bool": "boolean"}[ute.Value]
			if kind == "" {
				kind = ute.Value
			}
			return nil, fmt.Errorf("the model config is a JSON %s, not an object", kind)
		}
		if strings.Contains(err.Error(), "after top-level value") {
			return nil, errors.New("not valid JSON: data after the top-level value")
		}
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if top == nil {
		return nil, errors.New("the model config is a JSON null, not an object")
	}
	class, ok := top.get("class_name").(string)
	if !ok {
		return nil, errors.New(`the model config has no "class_name"`)
	}
	cfg, hasCfg := top["config"]
	if !hasCfg {
		return nil, errors.New(`the model config has no "config"`)
	}
	switch class {
	case "Model", "Functional":
		c, ok := asObject(cfg)
		if !ok {
			return nil, fmt.Errorf("%s config is a JSON %s, not an object", class, jsonKind(decode(cfg)))
		}
		return parseFunctional(c)
	case "Sequential":
		return parseSequential(cfg)
	}
	return nil, fmt.Errorf("model class %q is not supported (Model, Functional, Sequential)", class)
}

// object is a JSON object whose values are decoded when read (get).
type object map[string]json.RawMessage

// maxValue bounds the text of an entry decoded in one piece (a layer, one of its options):
// a larger layer is decoded option by option, the ignored ones not at all, and a larger
// option is a bigValue.
const maxValue = 1 << 20

// bigValue stands for a value too large to decode.
type bigValue int

func (b bigValue) MarshalJSON() ([]byte, error) {
	return json.Marshal(fmt.Sprintf("<%d bytes>", int(b)))
}

// skipped stands for an ignored option that was not decoded.
type skipped struct{}

func (skipped) MarshalJSON() ([]byte, error) { return []byte(`"<ignored>"`), nil }

// decode decodes one value (numbers as json.Number); nil for JSON null.
func decode(raw json.RawMessage) any {
	if len(raw) > maxValue {
		return bigValue(len(raw))
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return bigValue(len(raw))
	}
	return v
}

// get decodes the value of key (nil when absent or null).
func (o object) get(key string) any {
	raw, ok := o[key]
	if !ok {
		return nil
	}
	return decode(raw)
}

// asObject decodes raw as an object of lazily decoded values.
func asObject(raw json.RawMessage) (object, bool) {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil || o == nil {
		return nil, false
	}
	return o, true
}

// asArray decodes raw as an array of undecoded values.
func asArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil || a == nil {
		return nil, false
	}
	return a, true
}

// decodeEntry decodes a layer entry (or its config object) into a map: in one piece when it
// is small, else key by key, its "config" likewise, options that inference ignores left
// undecoded (skipped) and values over maxValue as bigValues. ok is false when raw is not an
// object.
func decodeEntry(raw json.RawMessage) (map[string]any, bool) {
	if len(raw) <= maxValue {
		m, ok := decode(raw).(map[string]any)
		return m, ok
	}
	o, ok := asObject(raw)
	if !ok {
		return nil, false
	}
	m := make(map[string]any, len(o))
	for k, v := range o {
		switch {
		case k == "config":
			if c, ok := decodeEntry(v); ok {
				m[k] = c
			} else {
				m[k] = decode(v)
			}
		case ignored[k] || trainingOnly[k]:
			m[k] = skipped{}
		default:
			m[k] = decode(v)
		}
	}
	return m, true
}

func jsonKind(v any) string {
	switch x := v.(type) {
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
	case bigValue:
		return fmt.Sprintf("value of %d bytes", int(x))
	case skipped:
		return "value (ignored)"
	}
	return fmt.Sprintf("%T", v)
}

func modelName(c object, def string) string {
	if n, ok := c.get("name").(string); ok && n != "" {
		return n
	}
	return def
}

func parseFunctional(c object) (*nn.Model, error) {
	list, ok := asArray(c["layers"])
	if !ok {
		return nil, errors.New(`the model config has no "layers" list`)
	}
	layers := make([]*nn.Layer, 0, len(list))
	for i, e := range list {
		entry, ok := decodeEntry(e)
		if !ok {
			return nil, fmt.Errorf("layer %d is a JSON %s, not an object", i, jsonKind(decode(e)))
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
	in, err := endpoint(c.get("input_layers"), "input_layers")
	if err != nil {
		return nil, err
	}
	out, err := endpoint(c.get("output_layers"), "output_layers")
	if err != nil {
		return nil, err
	}
	return nn.New(modelName(c, "model"), layers, in, out)
}

func parseSequential(cfg json.RawMessage) (*nn.Model, error) {
	name := "sequential"
	list, ok := asArray(cfg) // Keras ≤ 2.2
	if !ok {
		c, isObj := asObject(cfg)
		if !isObj {
			return nil, fmt.Errorf("Sequential config is a JSON %s", jsonKind(decode(cfg)))
		}
		name = modelName(c, name)
		if list, ok = asArray(c["layers"]); !ok {
			return nil, errors.New(`the Sequential config has no "layers" list`)
		}
	}
	if len(list) == 0 {
		return nil, errors.New("the Sequential model has no layers")
	}
	var layers []*nn.Layer
	for i, e := range list {
		entry, ok := decodeEntry(e)
		if !ok {
			return nil, fmt.Errorf("layer %d is a JSON %s, not an object", i, jsonKind(decode(e)))
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
