package loader

import "github.com/cilium/ebpf"

type ebpfRunOptions = ebpf.RunOptions

// XDP actions as the kernel returns them.
const (
	xdpAborted = 0
	xdpDrop    = 1
	xdpPass    = 2
)
