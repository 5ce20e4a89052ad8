package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"
)

// logFlags are global: xdhcp --log-format json --log-level debug serve ...
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"XDHCP_LOG_FORMAT"}, Usage: "log format on stderr: text or json (log/slog)"},
		&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"XDHCP_LOG_LEVEL"}, Usage: "least severe level logged: debug, info, warn or error"},
	}
}

// newLogger builds the slog logger the flags ask for.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// setupLogging makes the flags' logger the process default, which every
// package logs through (slog.Default).
func setupLogging(c *cli.Context) error {
	l, err := newLogger(c.App.ErrWriter, c.String("log-format"), c.String("log-level"))
	if err != nil {
		return err
	}
	slog.SetDefault(l)
	return nil
}
