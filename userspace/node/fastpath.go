package node

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/xdhcp/xdhcp/loader"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/failover"
	"github.com/xdhcp/xdhcp/userspace/metrics"
)

// liveFastPath is the metrics' view of the fast path: found at scrape time
// (pins, else the interface), so it works whatever the daemon attached and
// under ip netns exec; reopened after a read fails (re-attached, detached).
type liveFastPath struct {
	pinDir string
	mu     sync.Mutex
	maps   *loader.Maps
}

func (p *liveFastPath) open() (*loader.Maps, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.maps != nil {
		return p.maps, nil
	}
	var pins *loader.PinDir
	if _, err := os.Stat(p.pinDir); err == nil {
		// Only an existing pin dir: a reader must not create one.
		if pins, err = loader.OpenPinDir(p.pinDir); err != nil {
			return nil, err
		}
	}
	m, err := loader.Open("", pins)
	if err != nil {
		return nil, fmt.Errorf("find the fast path: %w", err)
	}
	p.maps = m
	return m, nil
}

func (p *liveFastPath) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.maps != nil {
		p.maps.Close()
		p.maps = nil
	}
}

// read runs fn on the maps; a failure drops them so the next scrape reopens.
func read[T any](p *liveFastPath, fn func(*loader.Maps) (T, error)) (T, error) {
	m, err := p.open()
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := fn(m)
	if err != nil {
		p.close()
		return v, errors.Join(err, errors.New("will reopen the fast path's maps on the next scrape"))
	}
	return v, nil
}

func (p *liveFastPath) Rule() (decide.Rule, error) { return read(p, (*loader.Maps).Rule) }

func (p *liveFastPath) Verdicts() (loader.Verdicts, error) { return read(p, (*loader.Maps).Verdicts) }

func (p *liveFastPath) Buckets() ([256]loader.BucketStats, error) {
	return read(p, (*loader.Maps).Buckets)
}

func (p *liveFastPath) Relays() ([]loader.RelayStats, error) { return read(p, (*loader.Maps).Relays) }

// feedMetrics registers the engine's state and the address shares as the
// failover and pool gauges (m nil: metrics off).
func feedMetrics(m *metrics.Metrics, e *failover.Engine) {
	if m == nil {
		return
	}
	m.SetFailover(func() metrics.Failover {
		st := e.Status()
		f := metrics.Failover{State: st.State.String()}
		if st.PartnerState != nil {
			f.PartnerState = st.PartnerState.String()
		}
		if st.LastContact != nil {
			f.LastContact = *st.LastContact
		}
		return f
	})
	m.SetPools(func() []metrics.Pool {
		var out []metrics.Pool
		for _, sh := range e.Status().Shares {
			share := "partner"
			if sh.Mine {
				share = "local"
			}
			out = append(out, metrics.Pool{Name: sh.Range.String(), Share: share, Free: int(sh.Free), Total: int(sh.Size)})
		}
		return out
	})
}
