package nn

import (
	"fmt"

	"goodnet/internal/resource"
)

// CheckCost applies goodnet's resource policy (goodnet/internal/resource) to running m on an
// engine: its FLOPs per image must be under the cap, and copies more copies of its weights
// (what the engine repacks or uploads) must fit the memory limit. The error names m's file.
func CheckCost(m *Model, copies int) error {
	if err := resource.CheckFLOPs(m.FLOPs()); err != nil {
		return m.costErr(err)
	}
	need := int64(copies) * 4 * int64(m.Params())
	if err := resource.Check(need, fmt.Sprintf("preparing it for the engine (%d copies of its %d weights)", copies, m.Params())); err != nil {
		return m.costErr(err)
	}
	return nil
}

func (m *Model) costErr(err error) error {
	if m.Source != "" {
		return fmt.Errorf("%s: %w", m.Source, err)
	}
	return fmt.Errorf("model %s: %w", m.Name, err)
}

// CostError names m's file (or the model) in an error of the resource policy about running it.
func (m *Model) CostError(err error) error { return m.costErr(err) }
