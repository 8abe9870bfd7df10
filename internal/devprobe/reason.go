package devprobe

import "os"

// envNoGPU carries the probe's reason across the hand-over (execve) to the CPU build.
const envNoGPU = "GOODNET_NO_GPU"

// NoGPU says why this process runs without a GPU when a cuda build handed it over (see the
// package doc): "no usable GPU (<reason>)", or "" when it was not handed over. The CLI passes
// it to nn.Open (nn.NoGPUReason) for the error of --device gpu.
func NoGPU() string {
	if r := os.Getenv(envNoGPU); r != "" {
		return "no usable GPU (" + r + ")"
	}
	return ""
}
