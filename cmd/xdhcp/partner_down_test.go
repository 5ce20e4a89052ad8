package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/xdhcp/xdhcp/userspace/failover"
)

func TestPartnerDownCommand(t *testing.T) {
	f := &fakeNode{status: pairStatus(), pdErr: errors.New("the partner is connected (198.19.0.1:647, state normal): refusing partner-down")}
	sock := serveFake(t, f)
	if _, err := runApp(t, "partner-down", "--control", sock); err == nil || !strings.Contains(err.Error(), "the partner is connected") {
		t.Errorf("partner-down refusal not passed on: %v", err)
	}
	f.pdErr = nil
	out, err := runApp(t, "partner-down", "--json", "--control", sock)
	var st failover.Status
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Role.String() != "secondary" {
		t.Errorf("partner-down --json: %v\n%s", err, out)
	}
}
