package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xdhcp/xdhcp/userspace/control"
	"github.com/xdhcp/xdhcp/userspace/decide"
	"github.com/xdhcp/xdhcp/userspace/failover"
)

// rules is the daemon's rule as the tuner sees it; fail makes SetRule fail.
type rules struct {
	r      decide.Rule
	fail   error
	writes int
}

func (x *rules) Rule() decide.Rule { return x.r }
func (x *rules) SetRule(r decide.Rule) error {
	if x.fail != nil {
		return x.fail
	}
	x.r = r
	x.writes++
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func standalone(t *testing.T) (*tuner, *rules, *decide.HBA) {
	base := decide.DefaultRule()
	base.HBA = decide.MustSplit(256)
	r := &rules{r: base}
	var share decide.HBA
	tu := &tuner{rules: r, share: func(h decide.HBA, _ decide.Role) { share = h }, file: filepath.Join(t.TempDir(), "leases.db.tuning"),
		base: Tuning{Threshold: base.Threshold, HBA: base.HBA}, log: quiet()}
	return tu, r, &share
}

func u16(v uint16) *uint16 { return &v }

// A standalone server applies a change, keeps it in the tuning file, and
// moves its address share with the assignment.
func TestTuneStandalone(t *testing.T) {
	tu, r, share := standalone(t)
	ctx := context.Background()
	v, err := tu.Tune(ctx, control.RuleChange{Threshold: u16(2)})
	if err != nil || v.Rule.Threshold != 2 || r.r.Threshold != 2 || v.Pair {
		t.Fatalf("threshold 2: %v %+v", err, v)
	}
	f, err := readTuning(tu.file)
	if err != nil || f == nil || f.Tuning.Threshold != 2 || f.Flags.Threshold != decide.DefaultThreshold {
		t.Fatalf("tuning file after threshold 2: %+v %v", f, err)
	}
	h := decide.MustSplit(64)
	if _, err := tu.Tune(ctx, control.RuleChange{HBA: &h}); err != nil || r.r.HBA != h || *share != h {
		t.Fatalf("hba: %v rule %v share %v", err, r.r.HBA.Count(decide.Primary), share.Count(decide.Primary))
	}
	st := decide.PartnerDown
	if _, err := tu.Tune(ctx, control.RuleChange{State: &st}); err != nil || r.r.Rule != decide.PartnerDown {
		t.Fatalf("state: %v %v", err, r.r.Rule)
	}
	role := decide.Secondary
	var ce *control.Error
	if _, err := tu.Tune(ctx, control.RuleChange{Role: &role}); !errors.As(err, &ce) || !strings.Contains(ce.Msg, "restart serve with --role") || r.r.Role != decide.Primary {
		t.Fatalf("role change on a running daemon: %v, role %v", err, r.r.Role)
	}
	// Back at the flags' values, the file goes: the flags say it all.
	all := decide.MustSplit(256)
	if _, err := tu.Tune(ctx, control.RuleChange{Threshold: u16(decide.DefaultThreshold), HBA: &all}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tu.file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tuning file kept at the flags' values: %v", err)
	}
}

// A change that cannot be kept is undone: a restart would undo it silently.
func TestTuneNotKeptIsUndone(t *testing.T) {
	tu, r, share := standalone(t)
	tu.file = filepath.Join(t.TempDir(), "missing-dir", "leases.db.tuning")
	h := decide.MustSplit(100)
	_, err := tu.Tune(context.Background(), control.RuleChange{Threshold: u16(3), HBA: &h})
	if err == nil || !strings.Contains(err.Error(), "undone") {
		t.Fatalf("unkeepable change: %v", err)
	}
	if r.r.Threshold != decide.DefaultThreshold || r.r.HBA != decide.MustSplit(256) || *share != decide.MustSplit(256) {
		t.Errorf("not undone: threshold %d, %d buckets, share %d", r.r.Threshold, r.r.HBA.Count(decide.Primary), share.Count(decide.Primary))
	}
	r.fail = errors.New("map write failed")
	if _, err := tu.Tune(context.Background(), control.RuleChange{Threshold: u16(3)}); err == nil || !strings.Contains(err.Error(), "map write failed") {
		t.Errorf("failed rule write: %v", err)
	}
}

// fakePair stands in for the failover engine: it "agrees" with the
// partner, writes the rule through the daemon's rule (as Options.Rule) and
// calls persist, as the engine's Tune does on both servers.
type fakePair struct {
	rules   *rules
	persist func(Tuning) error
	asked   []Tuning
	refuse  error
}

func (p *fakePair) Tune(_ context.Context, t Tuning) (Tuning, error) {
	p.asked = append(p.asked, t)
	if p.refuse != nil {
		return Tuning{}, p.refuse
	}
	r := p.rules.r
	r.Threshold, r.HBA = t.Threshold, t.HBA
	if err := p.rules.SetRule(r); err != nil {
		return Tuning{}, err
	}
	return t, p.persist(t)
}

type fakeEngine struct {
	state decide.State
	pdErr error
	pds   int
}

func (e *fakeEngine) Status() failover.Status { return failover.Status{State: e.state} }
func (e *fakeEngine) PartnerDown(context.Context) error {
	e.pds++
	if e.pdErr == nil {
		e.state = decide.PartnerDown
	}
	return e.pdErr
}

// In a pair, threshold and assignment are agreed through the engine and
// kept; the state is the engine's, and only partner-down may be asked.
func TestTunePair(t *testing.T) {
	tu, r, _ := standalone(t)
	r.r.HBA = decide.MustSplit(128)
	tu.base.HBA = r.r.HBA
	eng := &fakeEngine{state: decide.Normal}
	pair := &fakePair{rules: r, persist: tu.persist}
	tu.fo, tu.pair = eng, pair
	ctx := context.Background()
	v, err := tu.Tune(ctx, control.RuleChange{Threshold: u16(3)})
	if err != nil || !v.Pair || v.Rule.Threshold != 3 || len(pair.asked) != 1 || pair.asked[0] != (Tuning{3, decide.MustSplit(128)}) {
		t.Fatalf("pair threshold: %v %+v asked %+v", err, v, pair.asked)
	}
	if f, err := readTuning(tu.file); err != nil || f == nil || f.Tuning.Threshold != 3 {
		t.Errorf("pair tuning not kept: %+v %v", f, err)
	}
	var ce *control.Error
	st := decide.Startup
	if _, err := tu.Tune(ctx, control.RuleChange{State: &st}); !errors.As(err, &ce) || !strings.Contains(ce.Msg, "only declare partner-down") {
		t.Errorf("state startup in a pair: %v", err)
	}
	eng.pdErr = errors.New("the partner is connected")
	pd := decide.PartnerDown
	if _, err := tu.Tune(ctx, control.RuleChange{State: &pd}); !errors.As(err, &ce) || !strings.Contains(ce.Msg, "the partner is connected") {
		t.Errorf("partner-down while connected: %v", err)
	}
	eng.pdErr = nil
	if _, err := tu.Tune(ctx, control.RuleChange{State: &pd}); err != nil || eng.state != decide.PartnerDown || eng.pds != 2 {
		t.Errorf("partner-down: %v state %v", err, eng.state)
	}
	// Asking for the state the engine is in changes nothing.
	if _, err := tu.Tune(ctx, control.RuleChange{State: &pd}); err != nil || eng.pds != 2 {
		t.Errorf("state already partner-down: %v, %d calls", err, eng.pds)
	}
	pair.refuse = errors.New("partner refused: threshold 3 vs 4")
	if _, err := tu.Tune(ctx, control.RuleChange{Threshold: u16(4)}); !errors.As(err, &ce) || !strings.Contains(ce.Msg, "not agreed with the partner: partner refused") || r.r.Threshold != 3 {
		t.Errorf("refused by the partner: %v, threshold %d", err, r.r.Threshold)
	}
	// The build without the engine's Tune says so instead of pretending.
	tu.pair = engineTuner{}
	if _, err := tu.Tune(ctx, control.RuleChange{Threshold: u16(5)}); !errors.As(err, &ce) || r.r.Threshold != 3 {
		t.Errorf("engine without Tune: %v, threshold %d", err, r.r.Threshold)
	}
}

// The tuning file over the flags: it applies while the flags are the ones
// it was made against, and goes when the flags changed since.
func TestTuningFileAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases.db.tuning")
	flags := decide.DefaultRule()
	r, src, err := applyTuningFile(path, flags, "", quiet())
	if err != nil || r.Threshold != flags.Threshold || src != "flags" {
		t.Fatalf("no file: %v %s", err, src)
	}
	tuned := Tuning{Threshold: 2, HBA: decide.MustSplit(200)}
	if err := writeTuning(path, tuningFile{Flags: Tuning{flags.Threshold, flags.HBA}, Tuning: tuned}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("%d files beside the store, want the tuning file only (no temporary left)", len(entries))
	}
	r, src, err = applyTuningFile(path, flags, "flags", quiet())
	if err != nil || r.Threshold != 2 || r.HBA != tuned.HBA || !strings.Contains(src, "tuning file") {
		t.Fatalf("same flags: %v threshold %d %s", err, r.Threshold, src)
	}
	changed := flags
	changed.Threshold = 4
	r, _, err = applyTuningFile(path, changed, "flags", quiet())
	if err != nil || r.Threshold != 4 {
		t.Fatalf("changed flags: %v threshold %d", err, r.Threshold)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("superseded tuning file kept: %v", err)
	}
	for _, bad := range []string{"{", `{"version":9}`, `{"version":1,"tuning":{"hba":"zz"}}`} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := applyTuningFile(path, flags, "flags", quiet()); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("damaged file %q: %v, want an error naming the file", bad, err)
		}
	}
}
