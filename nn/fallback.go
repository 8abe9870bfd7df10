package nn

import (
	"errors"
	"fmt"
)

// ErrUnsupported marks a Compile error for a model that the engine does not run (a layer kind
// or option it has no kernel for), as opposed to a failure (out of memory, bad weights).
var ErrUnsupported = errors.New("not supported by this engine")

// Fallback is the backend of --device auto on a machine with a GPU: it compiles each model
// with First (the GPU) and, when First does not run one of the model's layers (its Compile
// error wraps ErrUnsupported), with Second (the CPU), so that every model the CPU engine runs
// still runs. Name and Describe are First's.
type Fallback struct {
	First, Second Backend
}

// Name is First's name.
func (f *Fallback) Name() string { return f.First.Name() }

// Describe is First's description, and what runs the models First does not.
func (f *Fallback) Describe() string {
	return fmt.Sprintf("%s (models with layers it does not run: %s)", f.First.Describe(), f.Second.Describe())
}

// Compile compiles m with First, or with Second when First does not support m.
func (f *Fallback) Compile(m *Model) (Net, error) {
	n, err := f.First.Compile(m)
	if errors.Is(err, ErrUnsupported) {
		return f.Second.Compile(m)
	}
	return n, err
}

// Unsupported marks err (whose message it keeps) as an ErrUnsupported error.
func Unsupported(err error) error { return unsupported{err} }

type unsupported struct{ error }

func (u unsupported) Is(target error) bool { return target == ErrUnsupported }
func (u unsupported) Unwrap() error        { return u.error }
