package daemon

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/xdhcp/xdhcp/userspace/config"
)

// Reload swaps in a new configuration (serve's SIGHUP): the next request
// is answered with it and the lease store allocates from its ranges.
// Settings bound to what the daemon opened at start (interfaces, db, xdp,
// server-id) keep their running values and are reported as needing a
// restart. No lease is dropped: a binding whose address is in no range any
// more stays in the store until it expires or is released, and is given
// to nobody else meanwhile; its renewal is refused (NAK), so the client
// moves into the new ranges at its next renewal. It returns what changed,
// one line per setting; on error nothing changed.
func (d *Daemon) Reload(cfg *config.Config) (changed []string, err error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	old := d.server.Config()
	next := *cfg
	var kept []string
	keep := func(name string, same bool, restore func()) {
		if !same {
			kept = append(kept, name+": changing it needs a restart, the running value is kept")
			restore()
		}
	}
	keep("interfaces", reflect.DeepEqual(next.Interfaces, old.Interfaces), func() { next.Interfaces = old.Interfaces })
	keep("db", next.DB == old.DB, func() { next.DB = old.DB })
	keep("xdp", next.XDP == old.XDP, func() { next.XDP = old.XDP })
	keep("server-id", next.ServerID == old.ServerID, func() { next.ServerID = old.ServerID })
	if err := next.Validate(""); err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	changed = append(diffConfig(old, &next), kept...)
	// Pools first: a request answered with the new options already
	// allocates from the new ranges.
	d.store.SetPools(next.Pools())
	d.server.SetConfig(&next)
	return changed, nil
}

// diffConfig lists the settings that differ, "name: old -> new", subnets
// by prefix; source lines are not settings.
func diffConfig(a, b *config.Config) []string {
	out := diffFields("", reflect.ValueOf(*a), reflect.ValueOf(*b), "Subnets")
	as, bs := subnetsByPrefix(a), subnetsByPrefix(b)
	for _, s := range a.Subnets {
		n, ok := bs[s.Prefix.String()]
		if !ok {
			out = append(out, fmt.Sprintf("subnet %v: removed", s.Prefix))
			continue
		}
		out = append(out, diffFields("subnet "+s.Prefix.String()+" ", reflect.ValueOf(withoutLines(s)), reflect.ValueOf(withoutLines(n)))...)
	}
	for _, s := range b.Subnets {
		if _, ok := as[s.Prefix.String()]; !ok {
			out = append(out, fmt.Sprintf("subnet %v: added, ranges %v", s.Prefix, s.Ranges))
		}
	}
	return out
}

func subnetsByPrefix(c *config.Config) map[string]*config.Subnet {
	m := map[string]*config.Subnet{}
	for _, s := range c.Subnets {
		m[s.Prefix.String()] = s
	}
	return m
}

// withoutLines copies s with its source line numbers cleared, so moving a
// subnet or a reservation in the file is not a change.
func withoutLines(s *config.Subnet) config.Subnet {
	c := *s
	c.Line = 0
	c.Reservations = nil
	for _, r := range s.Reservations {
		rc := *r
		rc.Line = 0
		c.Reservations = append(c.Reservations, &rc)
	}
	return c
}

// diffFields compares two structs of one type field by field, named by
// their JSON names, skipping the fields in skip.
func diffFields(prefix string, a, b reflect.Value, skip ...string) []string {
	var out []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		if !f.IsExported() || f.Tag.Get("json") == "-" || slices.Contains(skip, f.Name) {
			continue
		}
		x, y := a.Field(i).Interface(), b.Field(i).Interface()
		if reflect.DeepEqual(x, y) {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, fmt.Sprintf("%s%s: %v -> %v", prefix, strings.ReplaceAll(name, "_", "-"), show(a.Field(i)), show(b.Field(i))))
	}
	return out
}

// show prints a setting; slices of pointers by their values.
func show(v reflect.Value) string {
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Pointer {
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprintf("%+v", v.Index(i).Elem().Interface())
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("%v", v.Interface())
}
