package devprobe

import "testing"

func TestNoGPU(t *testing.T) {
	t.Setenv(envNoGPU, "")
	if r := NoGPU(); r != "" {
		t.Errorf("not handed over: %q", r)
	}
	t.Setenv(envNoGPU, "cuInit: CUDA_ERROR_NO_DEVICE (100)")
	if r := NoGPU(); r != "no usable GPU (cuInit: CUDA_ERROR_NO_DEVICE (100))" {
		t.Errorf("handed over: %q", r)
	}
}
