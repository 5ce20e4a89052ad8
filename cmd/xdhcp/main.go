// Command xdhcp is the DHCPv4 failover server with an XDP fast path: the
// daemon (serve) and the operator commands that read and change its state.
// Each command is one file that turns flags into a call into a package;
// execute is the whole command line, in process, for main and the tests.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/xdhcp/xdhcp/internal/buildinfo"

	"github.com/urfave/cli/v2"
	"github.com/xdhcp/xdhcp/internal/cliargs"
)

// version is set by the linker (-X main.version=...).
var version = "dev"

// Command categories, as --help groups them.
const (
	catServe    = "serve"
	catFastPath = "fast path"
	catFailover = "failover"
	catLeases   = "leases"
	catDiag     = "diagnostics"
	catLab      = "lab and bench"
)

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:                 "xdhcp",
		Usage:                "DHCPv4 load-balance failover server with an XDP fast path",
		Version:              version,
		EnableBashCompletion: true,
		Writer:               stdout,
		ErrWriter:            stderr,
		Flags:                logFlags(),
		Before:               setupLogging,
		Commands: []*cli.Command{
			serveCommand(), checkConfigCommand(),
			attachCommand(), detachCommand(), thresholdCommand(), bucketsCommand(), stateCommand(),
			statsCommand(), mapsCommand(), hashCommand(),
			statusCommand(), partnerDownCommand(),
			leasesCommand(), importCommand(),
			healthCommand(), relaysCommand(), explainCommand(), versionCommand(), completionCommand(), manCommand(),
			labCommand(), probeCommand(), benchCommand(),
		},
	}
	if app.Version == "dev" {
		app.Version = buildinfo.Read(version).Version
	}
	return app
}

// execute runs one command line (args[0] is the program name).
func execute(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	app := newApp(stdout, stderr)
	return app.RunContext(ctx, cliargs.Interspersed(app, args))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := execute(ctx, os.Stdout, os.Stderr, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "xdhcp:", err)
		os.Exit(1)
	}
}
