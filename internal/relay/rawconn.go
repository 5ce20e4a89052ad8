package relay

import "syscall"

type syscallRawConn = syscall.RawConn
