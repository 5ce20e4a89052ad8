package main

import (
	"github.com/urfave/cli/v2"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/rulectl"
)

// The rule commands (threshold, buckets, state) read and change the rule
// where it lives (package rulectl): through the daemon that serves the
// interface, else in the maps under a lock.

// ruleCmdFlags are the flags every rule command takes.
func ruleCmdFlags(extra ...cli.Flag) []cli.Flag {
	return append(extra, ifaceFlag, pinDirFlag, controlFlag, jsonFlag)
}

// ruleTarget is where the rule commands look for the rule.
func ruleTarget(c *cli.Context) rulectl.Target {
	return rulectl.Target{Control: c.String("control"), Iface: c.String("iface"), PinDir: c.String("pin-dir")}
}

func readRule(c *cli.Context) (rulectl.Now, error) { return ruleTarget(c).Read(c.Context) }

func changeRule(c *cli.Context, ch control.RuleChange) (rulectl.Now, error) {
	return ruleTarget(c).Change(c.Context, ch)
}
