//go:build !linux

package isolate

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

func newResultFile() (*os.File, error) { return newTempResultFile() }

func oomKills() int64 { return -1 }
