package stripemock

import "syscall"

// sysProcAttr has the kernel kill stripe-mock when the test binary dies
// without running its cleanups (a panic, a -timeout, a kill -9).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
