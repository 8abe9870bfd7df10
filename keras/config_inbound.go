package keras

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The edges of a Functional model_config: input_layers/output_layers and each layer's
// inbound_nodes, in the formats of Keras 2 and Keras 3.

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
		return "", fmt.Errorf("%s: %w", key, err)
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
			return "", fmt.Errorf("reference to %q: %s %w", name, what, err)
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
				return nil, fmt.Errorf("inbound_nodes: %w", err)
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
						return fmt.Errorf("inbound_nodes: keras_history: %w", err)
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
