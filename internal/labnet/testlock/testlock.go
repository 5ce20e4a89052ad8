// Package testlock keeps tests that load the machine apart from tests that
// time it, across the test binaries `go test ./...` runs in parallel.
//
// On a 2-CPU CI machine a packet flood in one package's tests (the drop
// bench, the generator) starved a rate test in another (perfdhcp at 1000
// exchanges/s lost 39 of 10100 acks). Tests of either kind call Exclusive:
// each runs alone among them.
package testlock

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// name is an abstract unix socket: bound by at most one process at a time,
// released by the kernel when the holder exits however it exits, and
// nothing left on disk. (Abstract names are per network namespace; test
// processes run in the initial one.)
const name = "@xdhcp-exclusive-test"

// Wait is how long Exclusive waits for the other holders before failing.
const Wait = 10 * time.Minute

// Exclusive waits until no other test holds the lock, then holds it until
// t ends.
func Exclusive(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	release, err := acquire(ctx, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("exclusive test lock: %v", err)
	}
	t.Cleanup(release)
}

// acquire binds the lock's socket, retrying every poll until ctx ends.
func acquire(ctx context.Context, poll time.Duration) (release func(), err error) {
	for {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("socket: %w", err)
		}
		err = unix.Bind(fd, &unix.SockaddrUnix{Name: name})
		if err == nil {
			return func() { unix.Close(fd) }, nil
		}
		unix.Close(fd)
		if !errors.Is(err, unix.EADDRINUSE) {
			return nil, fmt.Errorf("bind %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("another test held %s too long: %w", name, ctx.Err())
		case <-time.After(poll):
		}
	}
}
