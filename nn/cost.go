package nn

import "fmt"

// CostError names m's file (or the model) in an error of goodnet's resource policy
// (goodnet/internal/resource.CheckModel) about running it. nil stays nil.
//
// The policy itself lives in internal/resource, not here: goodnet/internal/devprobe imports nn
// and must initialise before gorgonia.org/cu, so nn imports only what cu imports too.
func (m *Model) CostError(err error) error {
	if err == nil {
		return nil
	}
	if m.Source != "" {
		return fmt.Errorf("%s: %w", m.Source, err)
	}
	return fmt.Errorf("model %s: %w", m.Name, err)
}
