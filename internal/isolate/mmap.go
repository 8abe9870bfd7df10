//go:build unix

package isolate

import (
	"os"
	"syscall"

	"goodnet/internal/resource"
)

var pageSize = int64(os.Getpagesize())

// mmap maps n bytes of f at off: shared and writable (the child filling its result) or
// private and read-only (the parent reading it).
func mmap(f *os.File, off int64, n int, write bool) ([]byte, error) {
	prot, flags := syscall.PROT_READ, syscall.MAP_PRIVATE
	if write {
		prot, flags = syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED
	}
	return syscall.Mmap(int(f.Fd()), off, n, prot, flags)
}

func munmap(b []byte) { syscall.Munmap(b) }

func mappedBytes(n int64) { resource.Mapped(n) }

// newTempResultFile is an unlinked temporary file for a child's result.
func newTempResultFile() (*os.File, error) {
	f, err := os.CreateTemp("", "goodnet-result-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}
