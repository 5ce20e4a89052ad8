// Command xdhcp is the DHCPv4 failover server with an XDP fast path: the
// daemon (serve) and the operator commands that read and change its state.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set by the linker (-X main.version=...).
var version = "dev"

func newApp() *cli.App {
	return finishApp(&cli.App{
		Name:                 "xdhcp",
		Usage:                "DHCPv4 load-balance failover server with an XDP fast path",
		Version:              version,
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			hashCommand(),
			attachCommand(),
			detachCommand(),
			thresholdCommand(),
			bucketsCommand(),
			stateCommand(),
			statsCommand(),
			serveCommand(),
			statusCommand(), partnerDownCommand(),
			leasesCommand(),
			checkConfigCommand(),
			benchCommand(),
			probeCommand(),
			labCommand(),
			relaysCommand(), explainCommand(), mapsCommand(), versionCommand(), completionCommand(), manCommand(),
		},
	})
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp().RunContext(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "xdhcp:", err)
		os.Exit(1)
	}
}
