//go:build cuda

package gpu

import (
	"fmt"

	"goodnet/cuda"
	"goodnet/nn"
)

func init() {
	nn.Register("gpu", func() (nn.Backend, error) {
		b, err := Open()
		if err != nil {
			return nil, err
		}
		return b, nil
	})
}

// theCore serialises all users of the one GPU.
var theCore = &core{dev: cudaDevice{}}

// Open initialises the GPU (context, kernels) and returns the backend.
func Open() (*Backend, error) {
	if err := cuda.Init(); err != nil {
		return nil, fmt.Errorf("no usable GPU: %w", err)
	}
	return &Backend{c: theCore}, nil
}

// cudaDevice is the engine's device on package cuda.
type cudaDevice struct{}

func fv(b f32) cuda.Float32s { return cuda.View[float32](uintptr(b.p), b.n) }
func iv(b i32) cuda.Int32s   { return cuda.View[int32](uintptr(b.p), b.n) }
func dv(b f64) cuda.Float64s { return cuda.View[float64](uintptr(b.p), b.n) }

func (cudaDevice) describe() string { return cuda.DeviceInfo().String() }

func (cudaDevice) memFree() (int64, error) {
	free, _, err := cuda.MemInfo()
	return free, err
}

func (cudaDevice) alloc(bytes int64) (uint64, error) {
	s, err := cuda.Alloc[byteElem](int((bytes + 7) / 8))
	return uint64(s.Ptr()), err
}

// byteElem allocates in 8-byte units (every buffer is then aligned for float64).
type byteElem = float64

func (cudaDevice) release(p uint64) error { return cuda.View[byteElem](uintptr(p), 1).Free() }

func (cudaDevice) putF32(dst f32, src []float32) error { return fv(dst).Upload(src) }
func (cudaDevice) getF32(dst []float32, src f32) error { return fv(src).Download(dst) }
func (cudaDevice) getI32(dst []int32, src i32) error   { return iv(src).Download(dst) }
func (cudaDevice) getF64(dst []float64, src f64) error { return dv(src).Download(dst) }
func (cudaDevice) copyF32(dst, src f32) error          { return fv(dst).CopyFrom(fv(src)) }
func (cudaDevice) zeroF64(b f64) error                 { return dv(b).Zero() }

func (cudaDevice) conv2d(out, x, w, b f32, s cuda.ConvShape, n int) error {
	return cuda.Conv2D(fv(out), fv(x), fv(w), fv(b), s, n)
}

func (cudaDevice) dense(out, x, w, b f32, s cuda.DenseShape, n int) error {
	return cuda.Dense(fv(out), fv(x), fv(w), fv(b), s, n)
}

func (cudaDevice) maxpool(out, x f32, s cuda.PoolShape, n int) error {
	return cuda.MaxPool(fv(out), fv(x), s, n)
}

func (cudaDevice) relu(out, x f32) error   { return cuda.ReLU(fv(out), fv(x)) }
func (cudaDevice) add(out, a, b f32) error { return cuda.Add(fv(out), fv(a), fv(b)) }

func (cudaDevice) argmax(out i32, x f32, rows, k int) error {
	return cuda.Argmax(iv(out), fv(x), rows, k)
}

func (cudaDevice) merge(out, b, bprime i32, classes int) error {
	return cuda.Merge(iv(out), iv(b), iv(bprime), classes)
}

func (cudaDevice) channelSum(acc, scratch f64, x f32, rows, C int) error {
	return cuda.ChannelSum(dv(acc), dv(scratch), fv(x), rows, C)
}
