package isolate

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysProcAttr kills the child when its parent dies.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// newResultFile is an anonymous memory file (memfd) for a child's result.
func newResultFile() (*os.File, error) {
	fd, err := unix.MemfdCreate("goodnet-result", unix.MFD_CLOEXEC)
	if err != nil {
		return newTempResultFile()
	}
	return os.NewFile(uintptr(fd), "goodnet-result"), nil
}

// oomKills is the number of processes of this cgroup the kernel's OOM killer has killed (-1:
// unknown).
func oomKills() int64 {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			ev, err := os.ReadFile("/sys/fs/cgroup" + rest + "/memory.events")
			if err != nil {
				return -1
			}
			for _, l := range strings.Split(string(ev), "\n") {
				if v, ok := strings.CutPrefix(l, "oom_kill "); ok {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					return n
				}
			}
		}
	}
	return -1
}
