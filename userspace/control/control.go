// Package control is the daemon's control API: HTTP/JSON over one unix
// socket, versioned routes under /v1. The server side takes the running
// node's services through small interfaces; the client used by every
// command that talks to a daemon is in this package too.
//
// Routes (docs/control-api.md):
//
//	GET  /v1/leases                 every lease record
//	GET  /v1/stats                  packet, store and responder counters
//	GET  /v1/rule                   the fast-path rule in force
//	PUT  /v1/rule                   change threshold, buckets or state (live tuning)
//	GET  /v1/failover               failover status (404 when standalone)
//	POST /v1/failover/partner-down  the operator's partner-down
//	GET  /v1/health                 serving, fast path, store, partner
//
// Adding a route: one file here with a func (s *Server) fooRoutes(mux) that
// registers it, and its name added to routes in server.go.
package control

import (
	"context"

	"github.com/xdhcp/xdhcp/userspace/daemon"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/lease"
)

// DefaultSocket is where serve listens and the commands ask, unless
// --control (env XDHCP_CONTROL) says otherwise.
const DefaultSocket = "/run/xdhcp/control.sock"

// Leases reads the lease store (the daemon holds the file's lock).
type Leases interface {
	All() []lease.Lease
}

// Stats reads the daemon's counters.
type Stats interface {
	Stats() daemon.Stats
}

// Rules reads and tunes the fast-path rule; the node is its one writer.
type Rules interface {
	Rule() RuleView
	Tune(ctx context.Context, ch RuleChange) (RuleView, error)
}

// Failover is the pair's engine (nil when the node runs standalone).
type Failover interface {
	Status() failover.Status
	PartnerDown(ctx context.Context) error
}

// HealthReader reports whether the node does its job.
type HealthReader interface {
	Health() Health
}

// Services are what the routes answer from. Failover may be nil.
type Services struct {
	Leases   Leases
	Stats    Stats
	Rules    Rules
	Failover Failover
	Health   HealthReader
}
