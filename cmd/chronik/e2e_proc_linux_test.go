package main

import "syscall"

// e2eChildProcAttr makes the kernel SIGKILL a broker if the test process dies
// first, so an aborted test run leaves no broker behind.
func e2eChildProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
