package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Time      string `json:"commit_time,omitempty"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	Kernel    string `json:"kernel,omitempty"`
}

// buildVersion is the linker's version, else the module version, else the
// VCS revision go build stamped in.
func buildVersion() versionInfo {
	v := versionInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	if v.Version == "dev" {
		switch {
		case bi.Main.Version != "" && bi.Main.Version != "(devel)":
			v.Version = bi.Main.Version
		case len(v.Commit) >= 12:
			v.Version = "dev-" + v.Commit[:12]
			if v.Modified {
				v.Version += "-dirty"
			}
		}
	}
	return v
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

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
			v := buildVersion()
			v.Kernel = kernelRelease()
			if c.Bool("json") {
				return writeJSON(c.App.Writer, v)
			}
			fmt.Fprintf(c.App.Writer, "xdhcp %s\n", v.Version)
			if v.Commit != "" {
				dirty := ""
				if v.Modified {
					dirty = " (modified)"
				}
				fmt.Fprintf(c.App.Writer, "commit   %s%s %s\n", v.Commit, dirty, v.Time)
			}
			fmt.Fprintf(c.App.Writer, "go       %s %s\n", v.GoVersion, v.Platform)
			if v.Kernel != "" {
				fmt.Fprintf(c.App.Writer, "kernel   %s\n", v.Kernel)
			}
			return nil
		},
	}
}
