package lease

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestPoolReserve: new clients stop at the reserve, in Offer and in Bind;
// clients the store knows and offers already made go on.
func TestPoolReserve(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	s, _ := open(t, "", c, Options{Pools: pools("198.18.1.10-198.18.1.19")})
	res := Reserve{Addresses: 3}
	// Two known clients, gone home: their addresses are free again.
	for i, k := range []string{"k1", "k2"} {
		bind(t, s, k, ip(fmt.Sprintf("198.18.1.1%d", i)), time.Hour)
		if _, err := s.Release(ip(fmt.Sprintf("198.18.1.1%d", i)), cid(k)); err != nil {
			t.Fatal(err)
		}
	}
	withReserve := func(r *OfferRequest) { r.Reserve = res }
	var offered []string
	for i := 0; ; i++ {
		n := fmt.Sprintf("n%d", i)
		_, err := s.Offer(OfferRequest{Subnet: subnet, Client: cid(n), Hold: time.Minute, Reserve: res})
		if errors.Is(err, ErrReserve) {
			break
		}
		if err != nil || i > 10 {
			t.Fatalf("offer %d: %v", i, err)
		}
		offered = append(offered, n)
	}
	if len(offered) != 10-3 {
		t.Fatalf("new clients got %d of 10 addresses with a reserve of 3, want 7", len(offered))
	}
	// A new client asking to bind a free address outright: refused too.
	if _, err := s.Bind(BindRequest{Subnet: subnet, Client: cid("stranger"), IP: ip("198.18.1.19"), LeaseTime: time.Hour, Reserve: res}); !errors.Is(err, ErrReserve) {
		t.Fatalf("bind by a new client at the reserve: %v", err)
	}
	// A new client binding the address it was offered: fine.
	a := offerTo(t, s, offered[0], withReserve)
	if _, err := s.Bind(BindRequest{Subnet: subnet, Client: cid(offered[0]), IP: a, LeaseTime: time.Hour, Reserve: res}); err != nil {
		t.Fatalf("bind of an offered address: %v", err)
	}
	// Known clients take from the reserve: their previous addresses.
	for i, k := range []string{"k1", "k2"} {
		if got := offerTo(t, s, k, withReserve); got != ip(fmt.Sprintf("198.18.1.1%d", i)) {
			t.Fatalf("%s offered %v", k, got)
		}
	}
	// No reserve: the last address goes to whoever asks.
	if got := offerTo(t, s, "late"); got != ip("198.18.1.19") {
		t.Fatalf("without a reserve the last address: %v", got)
	}
}

func TestHoldsAndActiveBinding(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	s, _ := open(t, "", c, Options{Pools: pools("198.18.1.10-198.18.1.19")})
	a := offerTo(t, s, "a")
	if !s.Holds(a, cid("a")) || s.Holds(a, cid("b")) || s.ActiveBinding(cid("a")) {
		t.Fatal("offer: held by a only, no binding yet")
	}
	bind(t, s, "a", a, time.Minute)
	if !s.ActiveBinding(cid("a")) {
		t.Fatal("bound: active binding")
	}
	c.add(2 * time.Minute)
	if s.ActiveBinding(cid("a")) || !s.Holds(a, cid("a")) {
		t.Fatal("expired: no active binding, still the client's last address")
	}
}
