package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func manCommand() *cli.Command {
	return &cli.Command{
		Name:        "man",
		Category:    catDiag,
		Usage:       "print the manual page (roff) built from every command's help",
		Description: `Renders the help of every command as a man page: xdhcp man > /usr/local/share/man/man8/xdhcp.8`,
		Action: func(c *cli.Context) error {
			page, err := c.App.ToMan()
			if err != nil {
				return fmt.Errorf("man: %w", err)
			}
			_, err = fmt.Fprint(c.App.Writer, page)
			return err
		},
	}
}
