package nn

import (
	"errors"
	"fmt"
	"strings"
)

// Device is where to compute: Auto, CPU or GPU (the values of goodnet's --device flag).
type Device string

// The devices.
const (
	Auto Device = "auto" // the GPU when one is usable, else the CPU
	CPU  Device = "cpu"
	GPU  Device = "gpu"
)

// ParseDevice reads auto, cpu or gpu (any case; surrounding spaces are ignored).
func ParseDevice(s string) (Device, error) {
	switch d := Device(strings.ToLower(strings.TrimSpace(s))); d {
	case Auto, CPU, GPU:
		return d, nil
	}
	return "", fmt.Errorf("%q: want auto, cpu or gpu", s)
}

// ErrNoDevice is ParseDevices' error for a list that names no device.
var ErrNoDevice = errors.New("no device named")

// ParseDevices reads a comma-separated list of devices ("cpu,gpu"; empty entries are
// skipped), each as ParseDevice does.
func ParseDevices(s string) ([]Device, error) {
	var out []Device
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		d, err := ParseDevice(f)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, ErrNoDevice
	}
	return out, nil
}

// An OpenOption adjusts Open.
type OpenOption func(*openConfig)

type openConfig struct {
	noGPU string
}

// NoGPUReason tells Open why this process has no GPU (a cuda build that found no usable GPU
// hands the command over to the CPU build and says why: see internal/devprobe), for the error
// of Open(GPU). An empty reason changes nothing.
func NoGPUReason(reason string) OpenOption {
	return func(c *openConfig) {
		if reason != "" {
			c.noGPU = reason
		}
	}
}

// ErrNoGPU is what Open(GPU)'s error is (errors.Is) when no GPU backend is usable.
var ErrNoGPU = errors.New("no usable GPU")

// noGPUError says why there is no GPU; it is ErrNoGPU.
type noGPUError struct {
	reason string
	err    error // the GPU backend's error, if it failed to open
}

func (e *noGPUError) Error() string        { return e.reason }
func (e *noGPUError) Is(target error) bool { return target == ErrNoGPU }
func (e *noGPUError) Unwrap() error        { return e.err }
func newOpenConfig(opts []OpenOption) *openConfig {
	c := &openConfig{noGPU: "this goodnet was built without CUDA (build it with `make cuda` for the GPU)"}
	for _, o := range opts {
		o(c)
	}
	return c
}

// GPUUnavailable says why Open(GPU) cannot succeed in this build: "" when a GPU backend is
// registered (a cuda build: whether it opens is only known by opening it), else the reason
// given with NoGPUReason, or that the build has no CUDA.
func GPUUnavailable(opts ...OpenOption) string {
	regMu.Lock()
	gpu := registry[string(GPU)]
	regMu.Unlock()
	if gpu != nil {
		return ""
	}
	return newOpenConfig(opts).noGPU
}

// Open returns the backend for device d: the CPU's, the GPU's, or for Auto the GPU's when one
// is registered and opens (as a Fallback to the CPU for the models whose layers the GPU does
// not run), else the CPU's.
func Open(d Device, opts ...OpenOption) (Backend, error) {
	regMu.Lock()
	gpu, cpu := registry[string(GPU)], registry[string(CPU)]
	regMu.Unlock()
	switch d {
	case Auto, "":
		if gpu != nil && cpu != nil {
			if b, err := gpu(); err == nil {
				c, err := cpu()
				if err != nil {
					return nil, err
				}
				return &Fallback{First: b, Second: c}, nil
			}
		}
		fallthrough
	case CPU:
		if cpu == nil {
			return nil, fmt.Errorf("no CPU backend registered")
		}
		return cpu()
	case GPU:
		if gpu == nil {
			return nil, &noGPUError{reason: newOpenConfig(opts).noGPU}
		}
		b, err := gpu()
		if err != nil {
			return nil, &noGPUError{reason: err.Error(), err: err}
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown device %q (want auto, cpu or gpu)", string(d))
}

// OpenAll opens each device of a list once, in order: Auto stands for the CPU and, when one
// opens, the GPU. An error names the device that failed ("gpu: …").
func OpenAll(ds []Device, opts ...OpenOption) ([]Backend, error) {
	var out []Backend
	seen := map[Device]bool{}
	add := func(d Device, must bool) error {
		if seen[d] {
			return nil
		}
		b, err := Open(d, opts...)
		if err != nil {
			if must {
				return fmt.Errorf("%s: %w", d, err)
			}
			return nil
		}
		seen[d] = true
		out = append(out, b)
		return nil
	}
	for _, d := range ds {
		var err error
		if d == Auto {
			if err = add(CPU, true); err == nil {
				err = add(GPU, false)
			}
		} else {
			err = add(d, true)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
