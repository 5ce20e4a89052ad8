package main

import (
	"github.com/urfave/cli/v2"
	"github.com/xdhcp/xdhcp/internal/buildinfo"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:     "version",
		Category: catDiag,
		Usage:    "print the version, the commit it was built from, Go and the kernel",
		Description: `Prints xdhcp's version (set with -ldflags "-X main.version=..."; otherwise
derived from the VCS revision go build records), the commit and its time,
whether the tree had uncommitted changes, the Go toolchain, the platform and
the running kernel (the XDP program's features depend on it). xdhcp --version
prints the version alone.`,
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			v := buildinfo.Read(version)
			v.Kernel = buildinfo.KernelRelease()
			if c.Bool("json") {
				return writeJSON(c.App.Writer, v)
			}
			return v.Print(c.App.Writer)
		},
	}
}
