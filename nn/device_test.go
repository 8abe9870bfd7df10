package nn_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"goodnet/nn"

	_ "goodnet/host" // the "cpu" backend
)

func TestParseDevice(t *testing.T) {
	for s, want := range map[string]nn.Device{"auto": nn.Auto, "CPU": nn.CPU, " gpu ": nn.GPU, "Auto": nn.Auto} {
		if d, err := nn.ParseDevice(s); err != nil || d != want {
			t.Errorf("%q: %q %v, want %q", s, d, err, want)
		}
	}
	for _, s := range []string{"", "tpu", "cpu,gpu", "cuda"} {
		if _, err := nn.ParseDevice(s); err == nil || err.Error() != fmt.Sprintf("%q: want auto, cpu or gpu", s) {
			t.Errorf("%q: %v", s, err)
		}
	}
	if d, err := nn.ParseDevices("cpu, GPU,,auto"); err != nil || fmt.Sprint(d) != "[cpu gpu auto]" {
		t.Errorf("list: %v %v", d, err)
	}
	if _, err := nn.ParseDevices("cpu,tpu"); err == nil || !strings.Contains(err.Error(), `"tpu"`) {
		t.Errorf("tpu in a list: %v", err)
	}
	if _, err := nn.ParseDevices(" , "); !errors.Is(err, nn.ErrNoDevice) {
		t.Errorf("empty list: %v", err)
	}
}

// Without a GPU backend (this test binary has none), Open(GPU) says why — the build's reason,
// or the one passed with NoGPUReason — and OpenAll names the device; auto is the CPU.
func TestOpenWithoutGPU(t *testing.T) {
	if slices.Contains(nn.Backends(), "gpu") {
		t.Skip("a GPU backend is registered")
	}
	_, err := nn.Open(nn.GPU)
	if !errors.Is(err, nn.ErrNoGPU) || !strings.Contains(err.Error(), "built without CUDA") {
		t.Errorf("Open(GPU): %v", err)
	}
	const why = "no usable GPU (cuInit: CUDA_ERROR_NO_DEVICE (100))"
	_, err = nn.Open(nn.GPU, nn.NoGPUReason(why))
	if !errors.Is(err, nn.ErrNoGPU) || err.Error() != why {
		t.Errorf("Open(GPU) with a reason: %v", err)
	}
	if r := nn.GPUUnavailable(nn.NoGPUReason(why)); r != why {
		t.Errorf("GPUUnavailable: %q", r)
	}
	if r := nn.GPUUnavailable(nn.NoGPUReason("")); !strings.Contains(r, "built without CUDA") {
		t.Errorf("GPUUnavailable without a reason: %q", r)
	}
	for _, d := range []nn.Device{nn.Auto, nn.CPU} {
		if b, err := nn.Open(d); err != nil || b.Name() != "cpu" {
			t.Errorf("Open(%s): %v %v", d, b, err)
		}
	}
	bs, err := nn.OpenAll([]nn.Device{nn.Auto, nn.CPU})
	if err != nil || len(bs) != 1 || bs[0].Name() != "cpu" {
		t.Errorf("OpenAll(auto, cpu): %v %v", bs, err)
	}
	_, err = nn.OpenAll([]nn.Device{nn.CPU, nn.GPU}, nn.NoGPUReason(why))
	if !errors.Is(err, nn.ErrNoGPU) || err.Error() != "gpu: "+why {
		t.Errorf("OpenAll(cpu, gpu): %v", err)
	}
}
