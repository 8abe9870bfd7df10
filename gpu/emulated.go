package gpu

import (
	"fmt"
	"sync"
	"unsafe"

	"goodnet/cuda"
	"goodnet/cuda/hostcheck"
)

// EmulatedOptions configure OpenEmulated.
type EmulatedOptions struct {
	// Kernels runs kernels.cu's __global__ kernels themselves, emulated on CPU threads with
	// the launches the GPU gets (cuda/hostcheck: slow, thousands of threads per launch);
	// otherwise the per-element loops of kernels.cu's arithmetic (the same bits, fast).
	Kernels bool
	// Memory is the device memory in bytes (0: 1 GiB).
	Memory int64
	// MaxBatch caps the samples per batch (0: MaxBatch).
	MaxBatch int
}

// OpenEmulated returns a GPU backend whose device is this CPU: memory is Go memory at made-up
// device addresses, checked on every access, and the kernels are kernels.cu's code compiled
// for the CPU (cuda/hostcheck). It runs the whole engine — batching, workspaces, the
// capabilities — without a GPU, for tests (here and in gpucheck) and nothing else: it is
// slow, and an access outside an allocation panics (a bug of the engine).
func OpenEmulated(o EmulatedOptions) *Backend {
	if o.Memory <= 0 {
		o.Memory = 1 << 30
	}
	d := newFake(o.Memory)
	d.emulate = o.Kernels
	return &Backend{c: &core{dev: d, maxBatch: o.MaxBatch}}
}

// fakeDevice is the engine's device on the CPU: memory is Go byte slices at made-up
// addresses (allocation i at i<<40), the kernels are cuda/hostcheck's — kernels.cu's
// per-element code, or its kernels emulated. It checks every access against its allocation,
// counts what is live, and can pretend to have little memory.
type fakeDevice struct {
	mu       sync.Mutex
	mem      map[uint64][]byte
	next     uint64
	free     int64 // reported free memory
	launches int
	kernels  map[string]int // launches by kernel
	emulate  bool           // run kernels.cu's __global__ kernels (emulated), not the per-element loops
}

func newFake(free int64) *fakeDevice {
	return &fakeDevice{mem: map[uint64][]byte{}, next: 1, free: free, kernels: map[string]int{}}
}

func (d *fakeDevice) launch(kernel string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.launches++
	d.kernels[kernel]++
}

func (d *fakeDevice) bytes(p uint64, n, size int) []byte {
	base, off := p>>40<<40, p&(1<<40-1)
	d.mu.Lock()
	m, ok := d.mem[base]
	d.mu.Unlock()
	if !ok {
		panic(fmt.Sprintf("fake device: address %#x is not allocated", p))
	}
	if int(off)+n*size > len(m) {
		panic(fmt.Sprintf("fake device: %d×%d bytes at offset %d of an allocation of %d", n, size, off, len(m)))
	}
	return m[off : int(off)+n*size]
}

func (d *fakeDevice) F(b f32) []float32 {
	if b.n == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&d.bytes(b.p, b.n, 4)[0])), b.n)
}

func (d *fakeDevice) I(b i32) []int32 {
	if b.n == 0 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&d.bytes(b.p, b.n, 4)[0])), b.n)
}

func (d *fakeDevice) D(b f64) []float64 {
	if b.n == 0 {
		return nil
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(&d.bytes(b.p, b.n, 8)[0])), b.n)
}

func (d *fakeDevice) describe() string {
	if d.emulate {
		return "emulated GPU (kernels.cu's kernels on CPU threads, cuda/hostcheck)"
	}
	return "emulated GPU (kernels.cu's arithmetic on the CPU, cuda/hostcheck)"
}

func (d *fakeDevice) memFree() (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.free, nil
}

func (d *fakeDevice) alloc(bytes int64) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if bytes > d.free {
		return 0, fmt.Errorf("fake device: out of memory")
	}
	p := d.next << 40
	d.next++
	b := make([]byte, bytes+8)
	for i := range b {
		b[i] = 0xff // NaN, as uninitialised memory may hold
	}
	d.mem[p] = b[:bytes]
	d.free -= bytes
	return p, nil
}

func (d *fakeDevice) release(p uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.mem[p]
	if !ok {
		return fmt.Errorf("fake device: release of %#x, not an allocation", p)
	}
	d.free += int64(len(m))
	delete(d.mem, p)
	return nil
}

func (d *fakeDevice) putF32(dst f32, src []float32) error {
	if len(src) != dst.n {
		return fmt.Errorf("upload of %d into %d", len(src), dst.n)
	}
	copy(d.F(dst), src)
	return nil
}

func (d *fakeDevice) getF32(dst []float32, src f32) error {
	if len(dst) != src.n {
		return fmt.Errorf("download of %d into %d", src.n, len(dst))
	}
	copy(dst, d.F(src))
	return nil
}

func (d *fakeDevice) getI32(dst []int32, src i32) error {
	if len(dst) != src.n {
		return fmt.Errorf("download of %d into %d", src.n, len(dst))
	}
	copy(dst, d.I(src))
	return nil
}

func (d *fakeDevice) getF64(dst []float64, src f64) error {
	if len(dst) != src.n {
		return fmt.Errorf("download of %d into %d", src.n, len(dst))
	}
	copy(dst, d.D(src))
	return nil
}

func (d *fakeDevice) copyF32(dst, src f32) error {
	if dst.n != src.n {
		return fmt.Errorf("copy of %d into %d", src.n, dst.n)
	}
	copy(d.F(dst), d.F(src))
	return nil
}

func (d *fakeDevice) zeroF64(b f64) error {
	clear(d.D(b))
	return nil
}

func (d *fakeDevice) conv2d(out, x, w, b f32, s cuda.ConvShape, n int) error {
	d.launch("conv2d")
	if d.emulate {
		return hostcheck.KernelConv2D(d.F(out), d.F(x), d.F(w), d.F(b), s, n)
	}
	return hostcheck.Conv2D(d.F(out), d.F(x), d.F(w), d.F(b), s, n)
}

func (d *fakeDevice) dense(out, x, w, b f32, s cuda.DenseShape, n int) error {
	d.launch("dense")
	if d.emulate {
		return hostcheck.KernelDense(d.F(out), d.F(x), d.F(w), d.F(b), s, n)
	}
	return hostcheck.Dense(d.F(out), d.F(x), d.F(w), d.F(b), s, n)
}

func (d *fakeDevice) maxpool(out, x f32, s cuda.PoolShape, n int) error {
	d.launch("maxpool")
	if d.emulate {
		return hostcheck.KernelMaxPool(d.F(out), d.F(x), s, n)
	}
	return hostcheck.MaxPool(d.F(out), d.F(x), s, n)
}

func (d *fakeDevice) relu(out, x f32) error {
	d.launch("relu")
	if d.emulate {
		return hostcheck.KernelReLU(d.F(out), d.F(x))
	}
	return hostcheck.ReLU(d.F(out), d.F(x))
}

func (d *fakeDevice) add(out, a, b f32) error {
	d.launch("add")
	if d.emulate {
		return hostcheck.KernelAdd(d.F(out), d.F(a), d.F(b))
	}
	return hostcheck.Add(d.F(out), d.F(a), d.F(b))
}

func (d *fakeDevice) argmax(out i32, x f32, rows, k int) error {
	d.launch("argmax")
	if d.emulate {
		return hostcheck.KernelArgmax(d.I(out), d.F(x), rows, k)
	}
	return hostcheck.Argmax(d.I(out), d.F(x), rows, k)
}

func (d *fakeDevice) merge(out, b, bprime i32, classes int) error {
	d.launch("merge")
	if d.emulate {
		return hostcheck.KernelMerge(d.I(out), d.I(b), d.I(bprime), classes)
	}
	return hostcheck.Merge(d.I(out), d.I(b), d.I(bprime), classes)
}

func (d *fakeDevice) channelSum(acc, scratch f64, x f32, rows, C int) error {
	d.launch("channelSum")
	if scratch.n < cuda.SumScratch(rows, C) {
		return fmt.Errorf("channel sum: scratch of %d, need %d", scratch.n, cuda.SumScratch(rows, C))
	}
	if d.emulate {
		return hostcheck.KernelChannelSum(d.D(acc), d.F(x), rows, C)
	}
	return hostcheck.ChannelSum(d.D(acc), d.F(x), rows, C)
}
