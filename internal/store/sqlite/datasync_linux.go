package sqlite

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2): the WAL's appended frames and its size reach the
// disk, without the timestamp update fsync(2) would also wait for.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
