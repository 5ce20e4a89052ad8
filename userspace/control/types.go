package control

import (
	"time"

	"github.com/xdhcp/xdhcp/userspace/decide"
)

// RuleView is the rule a daemon applies and where it came from.
type RuleView struct {
	Rule decide.Rule `json:"rule"`
	// Pair: a failover partner shares threshold and assignment, so a
	// change is agreed with it and applied on both servers.
	Pair bool `json:"pair"`
	// Tuning is the file that keeps live changes across restarts.
	Tuning string `json:"tuning_file,omitempty"`
	// Source says where threshold and assignment came from at start
	// (flags, the standalone default, the tuning file).
	Source string `json:"source,omitempty"`
}

// RuleChange is a live change (PUT /v1/rule); nil fields stay as they are.
type RuleChange struct {
	Threshold *uint16       `json:"threshold,omitempty"`
	HBA       *decide.HBA   `json:"hba,omitempty"`
	Role      *decide.Role  `json:"role,omitempty"`
	State     *decide.State `json:"state,omitempty"`
}

// Empty says the change changes nothing.
func (c RuleChange) Empty() bool {
	return c.Threshold == nil && c.HBA == nil && c.Role == nil && c.State == nil
}

// Health is GET /v1/health: what an operator or a monitor needs to know to
// say "this server does its job".
type Health struct {
	OK bool `json:"ok"`
	// Problems name each reason OK is false, one sentence each.
	Problems []string `json:"problems"`
	// Serving: the sockets are open and requests are answered.
	Serving bool      `json:"serving"`
	Started time.Time `json:"started"`
	PID     int       `json:"pid"`
	// NetNS identifies the daemon's network namespace ("net:[4026531840]"),
	// so a command can tell whether the daemon serves its interfaces.
	NetNS      string            `json:"netns"`
	FastPath   string            `json:"fast_path"` // the xdp setting: auto, native, generic or off
	Interfaces []InterfaceHealth `json:"interfaces"`
	Store      StoreHealth       `json:"store"`
	Partner    *PartnerHealth    `json:"partner,omitempty"` // nil: standalone
}

// InterfaceHealth is one served interface.
type InterfaceHealth struct {
	Name string `json:"name"`
	// XDP: the daemon's fast-path program is attached to it now (read
	// from the kernel, so a detach behind the daemon's back shows).
	XDP       bool   `json:"xdp"`
	ProgramID uint32 `json:"program_id,omitempty"`
}

// StoreHealth is the lease store.
type StoreHealth struct {
	Path     string `json:"path"`
	Writable bool   `json:"writable"`
	Fault    string `json:"fault,omitempty"` // the last failed commit's cause
}

// PartnerHealth is the failover pair.
type PartnerHealth struct {
	State        decide.State  `json:"state"`
	PartnerState *decide.State `json:"partner_state"` // nil: never heard
	Connected    bool          `json:"connected"`
	LastContact  *time.Time    `json:"last_contact"`
}
