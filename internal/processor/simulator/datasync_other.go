//go:build !linux

package simulator

// datasync is fsync where fdatasync is not available.
func datasync(f syncFile) error { return f.Sync() }
