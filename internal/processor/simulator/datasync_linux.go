package simulator

import (
	"os"
	"syscall"
)

// datasync flushes an appended journal with fdatasync(2): the data and the
// file size reach the disk (so every appended line survives a crash) without
// waiting for the timestamp update that fsync(2) also forces.
func datasync(f syncFile) error {
	if osf, ok := f.(*os.File); ok {
		return syscall.Fdatasync(int(osf.Fd()))
	}
	return f.Sync()
}
