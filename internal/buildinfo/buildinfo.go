// Package buildinfo says which xdhcp this is: version, commit, Go,
// platform and kernel (xdhcp version).
package buildinfo

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// Info is the build and the machine it runs on.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Time      string `json:"commit_time,omitempty"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	Kernel    string `json:"kernel,omitempty"`
}

// Read is the linker's version (linked: "dev" when none), else the module
// version, else the VCS revision go build stamped in.
func Read(linked string) Info {
	v := Info{Version: linked, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
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

// KernelRelease is the running kernel (the XDP program's features depend on it).
func KernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// Print writes the version as xdhcp version shows it.
func (v Info) Print(w io.Writer) error {
	fmt.Fprintf(w, "xdhcp %s\n", v.Version)
	if v.Commit != "" {
		dirty := ""
		if v.Modified {
			dirty = " (modified)"
		}
		fmt.Fprintf(w, "commit   %s%s %s\n", v.Commit, dirty, v.Time)
	}
	fmt.Fprintf(w, "go       %s %s\n", v.GoVersion, v.Platform)
	if v.Kernel != "" {
		fmt.Fprintf(w, "kernel   %s\n", v.Kernel)
	}
	return nil
}
