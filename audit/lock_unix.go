//go:build unix

package audit

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// modelLock is an advisory lock (flock) on a model's lock file, released when the process
// ends however it ends. held is false where the file system has no locks (then nothing is
// excluded and nothing stale is removed); busy when another process holds it.
type modelLock struct {
	f          *os.File
	held, busy bool
}

func lockModel(path string) (*modelLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot create the lock file: %w", path, unwrapPath(err))
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return &modelLock{f: f, held: true}, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		f.Close()
		return &modelLock{busy: true}, nil
	default: // ENOLCK, EOPNOTSUPP, …: a file system without locks
		f.Close()
		return &modelLock{}, nil
	}
}

func (l *modelLock) unlock() {
	if l.f != nil {
		l.f.Close() // releases the flock
	}
}
