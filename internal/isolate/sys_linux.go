package isolate

import "syscall"

// sysProcAttr kills the child when its parent dies.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
