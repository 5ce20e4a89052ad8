package testlock

import (
	"context"
	"testing"
	"time"
)

// A second holder waits while the first holds the lock and gets it once the
// first lets go.
func TestExclusiveWaits(t *testing.T) {
	ctx, cancelAll := context.WithTimeout(context.Background(), Wait)
	defer cancelAll()
	release, err := acquire(ctx, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if r, err := acquire(short, 10*time.Millisecond); err == nil {
		r()
		release()
		t.Fatal("a second holder got the lock while the first held it")
	}
	got := make(chan error, 1)
	go func() {
		r, err := acquire(ctx, 10*time.Millisecond)
		if err == nil {
			r()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond)
	release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting holder did not get the lock after the first released it")
	}
}
