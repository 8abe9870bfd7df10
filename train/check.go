package train

import (
	"fmt"

	"goodnet/nn"
)

// Trains lists the layer kinds the engine has a backward pass for.
const Trains = "Conv2D, Dense (ReLU, linear, softmax on the output), MaxPooling2D, Add, Flatten, Dropout and ReLU or linear Activation layers"

// Check reports whether Train can train m: every layer that leads to the output is one the
// engine has a forward and a backward pass for (Trains). The error names the first layer that
// is not (one line, without a package prefix: callers say what they were doing).
func Check(m *nn.Model) error {
	for _, l := range nn.Plan(m, nil, []*nn.Layer{m.Output}) {
		if err := checkLayer(m, l); err != nil {
			return err
		}
	}
	return nil
}

// checkLayer is Check for one layer.
func checkLayer(m *nn.Model, l *nn.Layer) error {
	switch l.Kind {
	case nn.Input, nn.MaxPool2D, nn.Add, nn.Flatten, nn.Dropout:
		return nil
	case nn.Act:
		switch {
		case l.Act == nn.ReLU, l.Act == nn.Linear, l.Act == nn.Softmax && l == m.Output:
			return nil
		case l.Act == nn.Softmax:
			return fmt.Errorf("layer %q: softmax is supported on the output layer only", l.Name)
		}
		return fmt.Errorf("layer %q (%s activation): the trainer has no backward pass for it (it trains %s)", l.Name, l.Act, Trains)
	case nn.Conv2D, nn.Dense:
		if l.Act == nn.Softmax && l != m.Output {
			return fmt.Errorf("layer %q: softmax is supported on the output layer only", l.Name)
		}
		return nil
	}
	return fmt.Errorf("layer %q (%s): the trainer has no backward pass for it (it trains %s)", l.Name, l.Kind, Trains)
}
