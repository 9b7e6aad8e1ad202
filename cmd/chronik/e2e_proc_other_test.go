//go:build !linux

package main

import "syscall"

func e2eChildProcAttr() *syscall.SysProcAttr { return nil }
