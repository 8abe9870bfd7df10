//go:build cuda

package gpucheck

import (
	"fmt"
	"io"
	"strings"

	"goodnet/cuda"
	"goodnet/gpu"
	"goodnet/host"
)

// Main runs the check on this machine's GPU (the cuda build's `goodnet gpu-check`).
func Main(w io.Writer, o Options) (*Result, error) {
	b, err := gpu.Open()
	if err != nil {
		return nil, err
	}
	info := cuda.DeviceInfo()
	free, total, err := cuda.MemInfo()
	if err != nil {
		return nil, err
	}
	about := []string{
		fmt.Sprintf("compute capability %d.%d, %d multiprocessors, %.1f GiB (%.1f GiB free); CUDA driver API %d.%d",
			info.Major, info.Minor, info.SMs, float64(total)/(1<<30), float64(free)/(1<<30), info.Driver/1000, info.Driver%1000/10),
	}
	for _, l := range strings.Split(cuda.FatbinInfo(), "\n") {
		about = append(about, "fatbin: "+l)
	}
	about = append(about, "kernels.cu of this binary: sha256 "+cuda.SourceHash()+" (the fatbin's: checked at start)")
	return Run(w, Env{GPU: b, CPU: host.New(0), Kernels: deviceKernels{}, About: about}, o)
}

// deviceKernels runs single kernels on the GPU: upload, launch, download, and a
// synchronisation that brings out a kernel's error.
type deviceKernels struct{}

// mem holds device copies of a call's buffers.
type mem struct {
	f []cuda.Float32s
	i []cuda.Int32s
	d []cuda.Float64s
}

func (m *mem) f32(v []float32) (cuda.Float32s, error) {
	s, err := cuda.Alloc[float32](len(v))
	if err != nil {
		return s, err
	}
	m.f = append(m.f, s)
	return s, s.Upload(v)
}

func (m *mem) i32(v []int32) (cuda.Int32s, error) {
	s, err := cuda.Alloc[int32](len(v))
	if err != nil {
		return s, err
	}
	m.i = append(m.i, s)
	return s, s.Upload(v)
}

func (m *mem) f64(v []float64) (cuda.Float64s, error) {
	s, err := cuda.Alloc[float64](len(v))
	if err != nil {
		return s, err
	}
	m.d = append(m.d, s)
	return s, s.Upload(v)
}

func (m *mem) free() {
	for _, s := range m.f {
		s.Free()
	}
	for _, s := range m.i {
		s.Free()
	}
	for _, s := range m.d {
		s.Free()
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// done synchronises (a kernel's fault shows here) and downloads out.
func done[T cuda.Elem](out []T, d cuda.Slice[T]) error {
	if err := cuda.Sync(); err != nil {
		return err
	}
	return d.Download(out)
}

func (deviceKernels) Conv2D(out, x, w, b []float32, s cuda.ConvShape, n int) error {
	var m mem
	defer m.free()
	dx, e1 := m.f32(x)
	dw, e2 := m.f32(w)
	db, e3 := m.f32(b)
	do, e4 := m.f32(out)
	if err := firstErr(e1, e2, e3, e4, cuda.Conv2D(do, dx, dw, db, s, n)); err != nil {
		return err
	}
	return done(out, do)
}

func (deviceKernels) Dense(out, x, w, b []float32, s cuda.DenseShape, n int) error {
	var m mem
	defer m.free()
	dx, e1 := m.f32(x)
	dw, e2 := m.f32(w)
	db, e3 := m.f32(b)
	do, e4 := m.f32(out)
	if err := firstErr(e1, e2, e3, e4, cuda.Dense(do, dx, dw, db, s, n)); err != nil {
		return err
	}
	return done(out, do)
}

func (deviceKernels) MaxPool(out, x []float32, s cuda.PoolShape, n int) error {
	var m mem
	defer m.free()
	dx, e1 := m.f32(x)
	do, e2 := m.f32(out)
	if err := firstErr(e1, e2, cuda.MaxPool(do, dx, s, n)); err != nil {
		return err
	}
	return done(out, do)
}

func (deviceKernels) ReLU(out, x []float32) error {
	var m mem
	defer m.free()
	dx, e1 := m.f32(x)
	do, e2 := m.f32(out)
	if err := firstErr(e1, e2, cuda.ReLU(do, dx)); err != nil {
		return err
	}
	return done(out, do)
}

func (deviceKernels) Add(out, a, b []float32) error {
	var m mem
	defer m.free()
	da, e1 := m.f32(a)
	db, e2 := m.f32(b)
	do, e3 := m.f32(out)
	if err := firstErr(e1, e2, e3, cuda.Add(do, da, db)); err != nil {
		return err
	}
	return done(out, do)
}

func (deviceKernels) Argmax(out []int32, x []float32, rows, k int) error {
	var m mem
	defer m.free()
	dx, e1 := m.f32(x)
	do, e2 := m.i32(out)
	if err := firstErr(e1, e2, cuda.Argmax(do, dx, rows, k)); err != nil {
		return err
	}
	return done(out, do)
}

func (deviceKernels) Merge(out, b, bprime []int32, flag int) error {
	var m mem
	defer m.free()
	db, e1 := m.i32(b)
	dp, e2 := m.i32(bprime)
	do, e3 := m.i32(out)
	if err := firstErr(e1, e2, e3, cuda.Merge(do, db, dp, flag)); err != nil {
		return err
	}
	return done(out, do)
}

func (deviceKernels) ChannelSum(acc []float64, x []float32, rows, C int) error {
	var m mem
	defer m.free()
	dx, e1 := m.f32(x)
	da, e2 := m.f64(acc)
	ds, e3 := m.f64(make([]float64, max(cuda.SumScratch(rows, C), 1)))
	if err := firstErr(e1, e2, e3, cuda.ChannelSum(da, ds, dx, rows, C)); err != nil {
		return err
	}
	return done(acc, da)
}
