//go:build cuda

package cuda

import (
	"fmt"
	"runtime"
	"sync"

	"gorgonia.org/cu"
)

// Info describes the GPU in use.
type Info struct {
	Name         string
	Major, Minor int   // compute capability
	Memory       int64 // bytes
	SMs          int   // multiprocessors
	Driver       int   // CUDA driver API version, e.g. 12040 for 12.4
}

func (i Info) String() string {
	return fmt.Sprintf("%s (compute capability %d.%d, %d SMs, %.1f GiB, CUDA driver %d.%d)",
		i.Name, i.Major, i.Minor, i.SMs, float64(i.Memory)/(1<<30), i.Driver/1000, i.Driver%1000/10)
}

var (
	initOnce sync.Once
	initErr  error
	device   cu.Device
	context  cu.CUContext
	info     Info
)

// Init makes the primary context of GPU 0 (the first of CUDA_VISIBLE_DEVICES) and loads the
// kernels. It is safe to call more than once; every other function of the package needs it
// to have succeeded.
func Init() error {
	initOnce.Do(func() { initErr = initialize() })
	return initErr
}

func initialize() error {
	if err := CheckFatbin(); err != nil {
		return err
	}
	n, err := cu.NumDevices()
	if err != nil {
		return fmt.Errorf("cuDeviceGetCount: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("no CUDA device")
	}
	if device, err = cu.GetDevice(0); err != nil {
		return fmt.Errorf("cuDeviceGet: %w", err)
	}
	if info.Name, err = device.Name(); err != nil {
		return fmt.Errorf("cuDeviceGetName: %w", err)
	}
	if info.Major, info.Minor, err = device.ComputeCapability(); err != nil {
		return err
	}
	if info.Memory, err = device.TotalMem(); err != nil {
		return fmt.Errorf("cuDeviceTotalMem: %w", err)
	}
	if info.SMs, err = device.Attribute(cu.MultiprocessorCount); err != nil {
		return fmt.Errorf("cuDeviceGetAttribute: %w", err)
	}
	info.Driver = cu.Version()
	if context, err = device.RetainPrimaryCtx(); err != nil {
		return fmt.Errorf("cuDevicePrimaryCtxRetain: %w", err)
	}
	if err := loadModule(); err != nil {
		return fmt.Errorf("%s: %w", info.Name, err)
	}
	return nil
}

// DeviceInfo describes the GPU (after Init).
func DeviceInfo() Info { return info }

// bind makes the context current on this goroutine's OS thread until the returned function
// is called. The CUDA driver is thread-safe; the context is a per-thread setting, so the
// goroutine must not move to another thread in between.
func bind() (func(), error) {
	if err := Init(); err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(context); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("cuCtxSetCurrent: %w", err)
	}
	return runtime.UnlockOSThread, nil
}

// MemInfo returns the free and total device memory in bytes.
func MemInfo() (free, total int64, err error) {
	done, err := bind()
	if err != nil {
		return 0, 0, err
	}
	defer done()
	return cu.MemInfo()
}

// Sync waits for all work queued on the GPU and returns the first error of a kernel.
func Sync() error {
	done, err := bind()
	if err != nil {
		return err
	}
	defer done()
	if err := cu.Synchronize(); err != nil {
		return fmt.Errorf("cuCtxSynchronize: %w", err)
	}
	return nil
}
