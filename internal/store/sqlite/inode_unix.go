//go:build unix

package sqlite

import (
	"os"
	"syscall"
)

// unlinked reports whether f's file has lost its last name: SQLite deleted
// the WAL (and may have made a new one at its path), or it was replaced. A
// check of the open handle rather than of the path: no lookup, no
// allocation, before every sync. An error counts as unlinked, so that the
// caller reopens and reports what is wrong.
func unlinked(f *os.File) bool {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return true
	}
	return st.Nlink == 0
}
