//go:build cuda

package cuda

import (
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

// Elem is an element type of device memory.
type Elem interface{ float32 | int32 | float64 }

// Slice is n elements of device memory; a view of an allocation (Slice.Slice) shares it.
type Slice[T Elem] struct {
	p cu.DevicePtr
	n int
}

// Float32s, Int32s, Float64s are the slices the kernels take.
type (
	Float32s = Slice[float32]
	Int32s   = Slice[int32]
	Float64s = Slice[float64]
)

func size[T Elem]() int64 {
	var z T
	return int64(unsafe.Sizeof(z))
}

// Alloc allocates n elements (uninitialised).
func Alloc[T Elem](n int) (Slice[T], error) {
	if n < 0 {
		return Slice[T]{}, fmt.Errorf("cuda: allocation of %d elements", n)
	}
	if n == 0 {
		return Slice[T]{}, nil
	}
	done, err := bind()
	if err != nil {
		return Slice[T]{}, err
	}
	defer done()
	p, err := cu.MemAlloc(int64(n) * size[T]())
	if err != nil {
		return Slice[T]{}, fmt.Errorf("cuMemAlloc of %d bytes: %w", int64(n)*size[T](), err)
	}
	return Slice[T]{p, n}, nil
}

// View is n elements at device address p (memory allocated elsewhere, e.g. by Alloc).
func View[T Elem](p uintptr, n int) Slice[T] { return Slice[T]{cu.DevicePtr(p), n} }

// Len is the number of elements.
func (s Slice[T]) Len() int { return s.n }

// Ptr is the device address (0 for an empty slice).
func (s Slice[T]) Ptr() uintptr { return uintptr(s.p) }

// Slice is the view of elements [lo, hi).
func (s Slice[T]) Slice(lo, hi int) Slice[T] {
	if lo < 0 || hi < lo || hi > s.n {
		panic(fmt.Sprintf("cuda: slice [%d:%d] of %d elements", lo, hi, s.n))
	}
	if hi == lo {
		return Slice[T]{}
	}
	return Slice[T]{s.p + cu.DevicePtr(int64(lo)*size[T]()), hi - lo}
}

// Free releases an allocation made by Alloc (not a view into it).
func (s Slice[T]) Free() error {
	if s.p == 0 {
		return nil
	}
	done, err := bind()
	if err != nil {
		return err
	}
	defer done()
	if err := cu.MemFree(s.p); err != nil {
		return fmt.Errorf("cuMemFree: %w", err)
	}
	return nil
}

// Upload copies src (len(src) == s.Len()) to the device.
func (s Slice[T]) Upload(src []T) error {
	if len(src) != s.n {
		return fmt.Errorf("cuda: upload of %d elements into %d", len(src), s.n)
	}
	if s.n == 0 {
		return nil
	}
	done, err := bind()
	if err != nil {
		return err
	}
	defer done()
	if err := cu.MemcpyHtoD(s.p, unsafe.Pointer(&src[0]), int64(s.n)*size[T]()); err != nil {
		return fmt.Errorf("cuMemcpyHtoD: %w", err)
	}
	return nil
}

// Download copies the device values to dst (len(dst) == s.Len()), after the kernels queued
// before it; a kernel's error shows here.
func (s Slice[T]) Download(dst []T) error {
	if len(dst) != s.n {
		return fmt.Errorf("cuda: download of %d elements into %d", s.n, len(dst))
	}
	if s.n == 0 {
		return nil
	}
	done, err := bind()
	if err != nil {
		return err
	}
	defer done()
	if err := cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), s.p, int64(s.n)*size[T]()); err != nil {
		return fmt.Errorf("cuMemcpyDtoH: %w", err)
	}
	return nil
}

// CopyFrom copies src (same length) on the device.
func (s Slice[T]) CopyFrom(src Slice[T]) error {
	if src.n != s.n {
		return fmt.Errorf("cuda: copy of %d elements into %d", src.n, s.n)
	}
	if s.n == 0 {
		return nil
	}
	done, err := bind()
	if err != nil {
		return err
	}
	defer done()
	if err := cu.MemcpyDtoD(s.p, src.p, int64(s.n)*size[T]()); err != nil {
		return fmt.Errorf("cuMemcpyDtoD: %w", err)
	}
	return nil
}

// Zero sets every byte to 0 (0.0 for floats).
func (s Slice[T]) Zero() error {
	if s.n == 0 {
		return nil
	}
	done, err := bind()
	if err != nil {
		return err
	}
	defer done()
	if err := cu.MemsetD8(s.p, 0, int64(s.n)*size[T]()); err != nil {
		return fmt.Errorf("cuMemsetD8: %w", err)
	}
	return nil
}
