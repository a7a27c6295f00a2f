// Package scratch picks where tests keep throwaway data: databases, server
// data folders, a PostgreSQL cluster. It is imported by test helpers only.
//
// Memory (/dev/shm) when it has room, else the system's temporary folder.
// The tests kill processes, never the machine, so what a flush to disk
// guards against cannot happen to their data; on a disk, a suite of
// servers committing side by side waits on the disk's flush rate instead of
// testing anything. The code under test still calls fsync exactly as it
// does in production.
package scratch

import (
	"os"
	"sync"
	"syscall"
)

// minFree is the room /dev/shm must have to be used (a Docker container's
// default 64 MB is not enough).
const minFree = 1 << 30

var root = sync.OnceValue(func() string {
	const shm = "/dev/shm"
	var st syscall.Statfs_t
	if err := syscall.Statfs(shm, &st); err != nil || uint64(st.Bavail)*uint64(st.Bsize) < minFree {
		return os.TempDir()
	}
	probe, err := os.MkdirTemp(shm, "coffer-probe-")
	if err != nil {
		return os.TempDir()
	}
	os.Remove(probe)
	return shm
})

// Root is the folder throwaway test data goes under.
func Root() string { return root() }

// MkdirTemp is os.MkdirTemp under Root.
func MkdirTemp(pattern string) (string, error) { return os.MkdirTemp(Root(), pattern) }
