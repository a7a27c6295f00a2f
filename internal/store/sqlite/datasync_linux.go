package sqlite

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2): the WAL's appended frames and its size reach the
// disk, without the timestamp update fsync(2) would also wait for.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// startWriteback asks the kernel to begin writing f's dirty pages now,
// without waiting for them or flushing the disk's cache: a later datasync
// then finds little left to write.
func startWriteback(f *os.File) error {
	const syncFileRangeWrite = 2 // SYNC_FILE_RANGE_WRITE
	return syscall.SyncFileRange(int(f.Fd()), 0, 0, syncFileRangeWrite)
}
