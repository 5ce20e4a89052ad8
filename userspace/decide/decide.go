package decide

// Verdict is the decision for one packet.
type Verdict struct {
	Reason Reason `json:"reason"`
	Drop   bool   `json:"drop"`
	// Hashed is true when the decision went through the hash; Bucket and
	// Owner are meaningful then.
	Hashed bool   `json:"hashed"`
	Bucket uint8  `json:"bucket"`
	Owner  Role   `json:"owner"`
	Secs   uint16 `json:"secs"` // secs as read (after the byte-swap quirk)
}

func verdict(r Reason) Verdict { return Verdict{Reason: r, Drop: r.Drops()} }

// DecideFrame parses an Ethernet frame and decides it, as the XDP program does.
func DecideFrame(c *Rule, frame []byte) Verdict {
	req, reason, ok := ParseFrame(frame)
	return decideParsed(c, &req, reason, ok)
}

// DecidePayload decides a UDP payload received on port 67 (XDP off).
func DecidePayload(c *Rule, payload []byte) Verdict {
	req, reason, ok := ParseBOOTP(payload)
	return decideParsed(c, &req, reason, ok)
}

func decideParsed(c *Rule, req *Request, reason Reason, ok bool) Verdict {
	if !ok {
		if reason == ReasonMalformed && c.DropMalformed {
			return verdict(ReasonMalformedDropped)
		}
		return verdict(reason)
	}
	return Decide(c, req)
}

// Decide applies the NORMAL-state message rules to a parsed BOOTREQUEST.
func Decide(c *Rule, req *Request) Verdict {
	if c.Rule != Normal {
		return verdict(ReasonStatePass)
	}
	if req.Overload {
		return verdict(ReasonOverload)
	}
	switch req.MsgType {
	case MsgNone, MsgDiscover, MsgInform:
		return hashGate(c, req)
	case MsgRequest:
		if req.Ciaddr != ([4]byte{}) {
			return verdict(ReasonRenewRebind)
		}
		if req.HasServerID {
			return serverIDGate(c, req)
		}
		return hashGate(c, req) // INIT-REBOOT
	case MsgDecline, MsgRelease:
		if req.HasServerID {
			return serverIDGate(c, req)
		}
		return hashGate(c, req)
	}
	return verdict(ReasonOtherMessage)
}

// serverIDGate: a message naming a server belongs to that server. With no
// identifiers configured the server cannot tell, so the hash decides.
func serverIDGate(c *Rule, req *Request) Verdict {
	if len(c.ServerIDs) == 0 {
		return hashGate(c, req)
	}
	if c.hasServerID(req.ServerID) {
		return verdict(ReasonServerIDMine)
	}
	return verdict(ReasonOtherServerDropped)
}

func hashGate(c *Rule, req *Request) Verdict {
	v := Verdict{Hashed: true, Bucket: Bucket(req.Key(c.ChaddrOnly)), Secs: EffectiveSecs(req.Secs, c.SwapSecs)}
	v.Owner = c.HBA.Owner(v.Bucket)
	switch {
	case c.Threshold == 0:
		v.Reason = ReasonLBOff
	case v.Owner == c.Role:
		v.Reason = ReasonOwned
	case v.Secs >= c.Threshold:
		v.Reason = ReasonSecsOverride
	default:
		v.Reason = ReasonPartnerDropped
	}
	v.Drop = v.Reason.Drops()
	return v
}

// EffectiveSecs applies the byte-order quirk: some clients send secs
// little-endian, so a value > 255 with a zero low byte is swapped.
func EffectiveSecs(secs uint16, swap bool) uint16 {
	if swap && secs > 255 && secs&0xff == 0 {
		return secs >> 8
	}
	return secs
}
