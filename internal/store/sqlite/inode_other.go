//go:build !unix

package sqlite

import "os"

// Without link counts the handle is never rebound: SQLite keeps its WAL
// file for as long as the store's connections are open.
func unlinked(*os.File) bool { return false }
