// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// xdhcp: the DHCPv4 load-balancing decision at XDP.
//
// Packet -> verdict: parse Ethernet (two VLAN tags), IPv4, UDP 67, BOOTP and
// the options the rule needs; hash the client key (RFC 3074); read the
// bucket bitmap, threshold and failover state; pass what this server owns or
// must answer, drop what belongs to the partner, count every verdict. What it
// cannot parse it passes (fail open). userspace/decide is the same rule in
// Go and the reference this program is tested against.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88a8
#define MAX_VLAN_TAGS 2
#define VLAN_HDR_LEN 4
#define IP_FRAG_MASK 0x3fff
#define IP_MIN_HDR_LEN 20
#define IPV4_NO_OPTIONS 0x45 // version 4, header length 5 words
#define IP_PROTO_UDP 17
#define DHCP_SERVER_PORT 67

#define BOOTREQUEST 1
#define BOOTP_FIXED_LEN 236
#define BOOTP_OPTIONS_OFF 240
#define BOOTP_SECS_OFF 8
#define BOOTP_CIADDR_OFF 12
#define BOOTP_GIADDR_OFF 24
#define BOOTP_CHADDR_OFF 28
#define BOOTP_COOKIE_OFF 236
#define DHCP_MAGIC_COOKIE 0x63825363
#define MAX_HLEN 16
#define MAX_OPTION_ITER 64
#define MAX_OPTIONS_LEN 1500
#define MAX_CLIENT_ID_LEN 255
// Ethernet + two tags + IPv4 with options + UDP + BOOTP fixed part + cookie
#define MAX_OPTIONS_START 512

// bounded(x, mask) is x & mask with the mask kept: the empty asm hides what
// clang knows about x, so it cannot drop the mask as redundant, and the
// verifier sees the bound right where the pointer arithmetic needs it. A
// constant needs no hiding (the verifier knows it), and stays foldable.
#define bounded(x, mask)                                 \
	({                                               \
		__u32 __v = (x);                         \
		if (!__builtin_constant_p(x))            \
			asm volatile("" : "+r"(__v));    \
		__v & (mask);                            \
	})
#define OPTIONS_START_MASK 0x3ff
#define OPTIONS_LEN_MASK 0x7ff
#define KEY_OFF_MASK 0xfff

#define OPT_PAD 0
#define OPT_REQUESTED_IP 50
#define OPT_OVERLOAD 52
#define OPT_MSG_TYPE 53
#define OPT_SERVER_ID 54
#define OPT_CLIENT_ID 61
#define OPT_END 255

#define MSG_NONE 0
#define MSG_DISCOVER 1
#define MSG_REQUEST 3
#define MSG_DECLINE 4
#define MSG_RELEASE 7
#define MSG_INFORM 8

#define NUM_BUCKETS 256
#define MAX_SERVER_IDS 8
#define RELAY_SLOTS 1024
#define IFACE_SLOTS 64
#define IFACE_SLOT_MASK (IFACE_SLOTS - 1)
#define RELAY_SLOT_SHIFT 22 // 32 - log2(RELAY_SLOTS)
#define FIBONACCI_32 2654435769u

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// Why a packet got its verdict; userspace/decide.Reason has the same values.
// Past REASON_MAX: what the parsing and rule steps return to say "go on",
// never a verdict and never counted (loader's tests check both lists).
enum xdhcp_reason {
	REASON_NOT_DHCP = 0,
	REASON_FRAGMENT,
	REASON_NOT_REQUEST,
	REASON_MALFORMED,
	REASON_MALFORMED_DROPPED,
	REASON_STATE_PASS,
	REASON_OVERLOAD,
	REASON_OTHER_MESSAGE,
	REASON_RENEW_REBIND,
	REASON_SERVER_ID_MINE,
	REASON_OTHER_SERVER_DROPPED,
	REASON_LB_OFF,
	REASON_OWNED,
	REASON_SECS_OVERRIDE,
	REASON_PARTNER_DROPPED,
	REASON_MAX, // the number of reasons, and of verdict counters
	PARSE_OK,     // a parser read its part: go on (else it returns the reason to stop with)
	OPT_CONTINUE, // the option walk goes on to the next option
	HASH_GATE,    // the message rules leave the verdict to the client's bucket
};

enum xdhcp_role { ROLE_PRIMARY = 0, ROLE_SECONDARY = 1 };

// Only NORMAL applies the rules; zero (STARTUP) passes everything, so an
// unconfigured program is harmless.
enum xdhcp_state { STATE_STARTUP = 0, STATE_NORMAL = 1 };

enum xdhcp_flags {
	FLAG_CHADDR_ONLY = 1 << 0,
	FLAG_SWAP_SECS = 1 << 1,
	FLAG_DROP_MALFORMED = 1 << 2,
	FLAG_RELAY_STATS = 1 << 3,
};

struct xdhcp_config {
	__u8 hba[32]; // bit (b&7) of byte (b>>3) set: the primary owns bucket b
	__u32 server_ids[MAX_SERVER_IDS]; // network byte order
	__u16 threshold; // non-owner passes at secs >= threshold; 0: load balancing off
	__u8 role;
	__u8 state;
	__u8 server_id_count;
	__u8 flags;
	__u8 pad[2];
};

// The hash gate's four outcomes, in the order of their reasons: a counter
// array indexed by reason - REASON_LB_OFF counts them with one increment.
#define GATE_FIRST REASON_LB_OFF
#define GATE_OUTCOMES 4
_Static_assert(REASON_OWNED == GATE_FIRST + 1 && REASON_SECS_OVERRIDE == GATE_FIRST + 2 &&
		       REASON_PARTNER_DROPPED == GATE_FIRST + 3 && REASON_MAX == GATE_FIRST + GATE_OUTCOMES,
	       "the hash gate's reasons must be the last four, in this order");

// Per bucket: hash-gated packets by outcome (lb-off, owned, secs-override,
// partner-dropped); seen is their sum.
struct xdhcp_bucket_stats {
	__u64 gated[GATE_OUTCOMES];
};

// Per relay (giaddr, network order; 0 is "direct", on-link clients):
// hash-gated requests by outcome (requests is their sum), the largest secs
// a partner's client was answered at, and when the relay was last seen.
struct xdhcp_relay_stats {
	__u32 relay;
	__u16 max_override_secs;
	__u16 pad;
	__u64 last_seen_ns;
	__u64 gated[GATE_OUTCOMES];
};

// Two config slots and an index: the writer fills the idle slot and then
// flips the index, so a packet never sees half of an update.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct xdhcp_config);
} xdhcp_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xdhcp_active SEC(".maps");

// Verdict counters per receiving interface: a direct-mapped table by
// ifindex. An interface landing on a slot held by another takes it over,
// and the slot's counts move to other_ifaces first, so the totals (the sum
// of both) stay exact.
struct xdhcp_iface_stats {
	__u32 ifindex;
	__u32 pad;
	__u64 verdicts[REASON_MAX];
};

// Every counter of a packet but the relay's, in one per-CPU value: one
// lookup per packet, one increment per table, no atomics.
struct xdhcp_counters {
	struct xdhcp_iface_stats ifaces[IFACE_SLOTS];
	struct xdhcp_iface_stats other_ifaces; // ifindex unused
	struct xdhcp_bucket_stats buckets[NUM_BUCKETS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdhcp_counters);
} xdhcp_stats SEC(".maps");

// Per-relay counters in a direct-mapped per-CPU table indexed by a hash of
// giaddr: an array lookup and no atomics, where an LRU hash cost more than
// the rest of the decision. A relay that lands on a slot held by another
// takes it over (bounded memory; with 1024 slots collisions are rare).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RELAY_SLOTS);
	__type(key, __u32);
	__type(value, struct xdhcp_relay_stats);
} xdhcp_relays SEC(".maps");

// Emit the shared types into BTF for bpf2go -type.
const enum xdhcp_reason *unused_reason __attribute__((unused));
const enum xdhcp_flags *unused_flags __attribute__((unused));

// RFC 3074 Pearson table (ISC dhcpd and Kea use the same).
static const __u8 pearson[256] = {
	251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, 31, 32, 55, 60, 152, 58, 17, 237, 174, 70, 160, 144, 220, 90, 57, 223,
	59, 3, 18, 140, 111, 166, 203, 196, 134, 243, 124, 95, 222, 179, 197, 65, 180, 48, 36, 15, 107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97, 16,
	40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22, 138, 29, 108, 244, 67, 207, 9, 178, 204, 74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5,
	20, 113, 71, 35, 128, 13, 182, 94, 25, 226, 227, 199, 75, 27, 41, 245, 230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241, 73, 88, 105,
	39, 114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, 82, 163, 44, 139, 228, 236, 205, 242, 217, 11, 187, 146, 159, 64, 86, 239,
	195, 42, 106, 198, 118, 112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253, 137, 185, 99, 164, 102, 147, 45, 66, 231, 52, 141, 211, 194, 206, 246, 238,
	56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19, 171, 72, 50, 33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188, 213,
	96, 235, 136, 208, 162, 129, 190, 132, 156, 38, 47, 1, 7, 254, 24, 4, 216, 131, 89, 21, 28, 133, 37, 153, 149, 80, 170, 68, 6, 169, 234, 151,
};

// What the rule reads from a BOOTREQUEST. Offsets are from the BOOTP start.
struct request {
	__u32 ciaddr;
	__u32 giaddr;
	__u32 server_id;
	__u16 secs;
	__u16 cid_off; // option 61 payload offset, valid when cid_len > 0
	__u8 hlen;
	__u8 msg_type;
	__u8 cid_len;
	__u8 has_server_id;
	__u8 overload;
};

// parse_l2_l4 walks Ethernet, VLAN tags, IPv4 and UDP. It returns PARSE_OK
// and the BOOTP start and length, or the reason to pass the frame untouched.
static __always_inline int parse_l2_l4(void *data, void *data_end, __u32 *bootp_off, __u32 *bootp_len)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return REASON_NOT_DHCP;
	__u16 proto = eth->h_proto;
	__u32 off = sizeof(*eth);

#pragma unroll
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q_) && proto != bpf_htons(ETH_P_8021AD_))
			break;
		__be16 *inner = data + off + 2; // TCI, then the encapsulated type
		if ((void *)(inner + 1) > data_end)
			return REASON_NOT_DHCP;
		proto = *inner;
		off += VLAN_HDR_LEN;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return REASON_NOT_DHCP;

	struct iphdr *ip = data + off;
	if ((void *)(ip + 1) > data_end || ip->version != 4)
		return REASON_NOT_DHCP;
	__u32 ihl = ip->ihl * 4;
	if (ihl < IP_MIN_HDR_LEN || data + off + ihl > data_end || ip->protocol != IP_PROTO_UDP)
		return REASON_NOT_DHCP;
	if (ip->frag_off & bpf_htons(IP_FRAG_MASK))
		return REASON_FRAGMENT;
	__u32 tot_len = bpf_ntohs(ip->tot_len);
	off += ihl;

	struct udphdr *udp = data + off;
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(DHCP_SERVER_PORT))
		return REASON_NOT_DHCP;
	__u32 udp_len = bpf_ntohs(udp->len);
	if (udp_len < sizeof(*udp) || tot_len < ihl + udp_len || data + off + udp_len > data_end)
		return REASON_MALFORMED;

	*bootp_off = off + sizeof(*udp);
	*bootp_len = udp_len - sizeof(*udp);
	return PARSE_OK;
}

// option_step is one step of the option walk at *off: it records what the
// rule needs and moves *off to the next option. It returns OPT_CONTINUE,
// PARSE_OK (END, or the end of the area) or REASON_MALFORMED.
static __always_inline int option_step(void *data_end, __u8 *opts, __u32 opt_off, __u32 limit, __u32 *offp,
				       struct request *req)
{
	__u32 off = *offp;
	if (off >= limit)
		return PARSE_OK; // ran to the end without END: tolerated
	__u8 *p = opts + bounded(off, OPTIONS_LEN_MASK);
	// The area ends at or before the frame's end (the callers checked the
	// UDP length against it), so only the area's last byte can lack a
	// byte behind it: PAD or END there ends the walk, anything else is cut.
	if (unlikely((void *)(p + 2) > data_end)) {
		if ((void *)(p + 1) > data_end)
			return REASON_MALFORMED;
		return p[0] == OPT_PAD || p[0] == OPT_END ? PARSE_OK : REASON_MALFORMED;
	}
	__u8 code = p[0];
	__u32 len = p[1]; // for PAD and END a byte read and not used
	if (unlikely(code == OPT_PAD)) {
		*offp = bounded(off + 1, OPTIONS_LEN_MASK);
		return OPT_CONTINUE;
	}
	if (code == OPT_END)
		return PARSE_OK;
	if (unlikely(off + 2 + len > limit)) // also off + 2 > limit: an option cut after its code
		return REASON_MALFORMED;
	__u8 *v = p + 2;
	switch (code) {
	case OPT_MSG_TYPE:
		if (len != 1 || (void *)(v + 1) > data_end)
			return REASON_MALFORMED;
		req->msg_type = v[0];
		break;
	case OPT_SERVER_ID:
		if (len != 4 || (void *)(v + 4) > data_end)
			return REASON_MALFORMED;
		req->has_server_id = 1;
		__builtin_memcpy(&req->server_id, v, 4); // network order, as the config stores it
		break;
	case OPT_REQUESTED_IP:
		if (len != 4)
			return REASON_MALFORMED;
		break;
	case OPT_CLIENT_ID:
		req->cid_off = opt_off + off + 2;
		req->cid_len = len;
		break;
	case OPT_OVERLOAD:
		req->overload = 1;
		break;
	}
	// off <= limit <= MAX_OPTIONS_LEN here; the mask says so to the
	// verifier, so every iteration starts from the same state and the
	// paths through one iteration prune each other.
	*offp = bounded(off + 2 + len, OPTIONS_LEN_MASK);
	return OPT_CONTINUE;
}

// INLINE_OPTION_STEPS steps of the walk run inline before parse_options is
// called for the rest: most requests end within them, and the call (with
// its return thunk) is then saved.
#define INLINE_OPTION_STEPS 8

// parse_options walks the options area [opt_off, opt_off + limit) of the
// packet for 53, 54, 61, 50 and 52 from off, after the INLINE_OPTION_STEPS
// steps walk_options took, up to MAX_OPTION_ITER steps in all. It is a
// global function, so the verifier checks its bounded loop once, not once
// per caller path.
__attribute__((noinline)) int parse_options(struct xdp_md *ctx, __u32 opt_off, __u32 limit, __u32 off,
					    struct request *req)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (!req || opt_off > MAX_OPTIONS_START)
		return REASON_MALFORMED;
	if (limit > MAX_OPTIONS_LEN)
		limit = MAX_OPTIONS_LEN;
	off = bounded(off, OPTIONS_LEN_MASK);
	__u8 *opts = data + bounded(opt_off, OPTIONS_START_MASK);

	for (int i = INLINE_OPTION_STEPS; i < MAX_OPTION_ITER; i++) {
		int r = option_step(data_end, opts, opt_off, limit, &off, req);
		if (r != OPT_CONTINUE)
			return r;
	}
	return REASON_MALFORMED; // more than MAX_OPTION_ITER steps
}

// walk_options: the first steps inline, the rest in parse_options.
static __always_inline int walk_options(struct xdp_md *ctx, void *data_end, __u32 opt_off, __u32 limit,
					struct request *req)
{
	void *data = (void *)(long)ctx->data;
	if (opt_off > MAX_OPTIONS_START)
		return REASON_MALFORMED;
	if (limit > MAX_OPTIONS_LEN)
		limit = MAX_OPTIONS_LEN;
	__u8 *opts = data + bounded(opt_off, OPTIONS_START_MASK);
	__u32 off = 0;
#pragma unroll
	for (int i = 0; i < INLINE_OPTION_STEPS; i++) {
		int r = option_step(data_end, opts, opt_off, limit, &off, req);
		if (r != OPT_CONTINUE)
			return r;
	}
	return parse_options(ctx, opt_off, limit, off, req);
}

// parse_bootp reads the fixed header and walks the options of a BOOTREQUEST.
static __always_inline int parse_bootp(struct xdp_md *ctx, __u8 *bootp, void *data_end, __u32 bootp_off,
				       __u32 bootp_len, struct request *req)
{
	if (bootp_len < BOOTP_FIXED_LEN || (void *)(bootp + BOOTP_FIXED_LEN) > data_end)
		return REASON_MALFORMED;
	if (bootp[0] != BOOTREQUEST)
		return REASON_NOT_REQUEST;
	req->hlen = bootp[2];
	if (req->hlen > MAX_HLEN)
		return REASON_MALFORMED;
	req->secs = bpf_ntohs(*(__u16 *)(bootp + BOOTP_SECS_OFF));
	req->ciaddr = *(__u32 *)(bootp + BOOTP_CIADDR_OFF);
	req->giaddr = *(__u32 *)(bootp + BOOTP_GIADDR_OFF);

	__u8 *cookie = bootp + BOOTP_COOKIE_OFF;
	if (bootp_len <= BOOTP_OPTIONS_OFF || (void *)(cookie + 4) > data_end ||
	    *(__u32 *)cookie != bpf_htonl(DHCP_MAGIC_COOKIE))
		return PARSE_OK; // plain BOOTP, or a cookie and no options
	return walk_options(ctx, data_end, bootp_off + BOOTP_OPTIONS_OFF, bootp_len - BOOTP_OPTIONS_OFF, req);
}

// hash_key is the RFC 3074 Pearson hash of len bytes at key_off, walked from
// the last byte to the first. Global, like parse_options, for the verifier.
__attribute__((noinline)) int hash_key(struct xdp_md *ctx, __u32 key_off, __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (key_off > MAX_OPTIONS_START + MAX_OPTIONS_LEN || len > MAX_CLIENT_ID_LEN)
		return 0;
	__u8 *key = data + bounded(key_off, KEY_OFF_MASK);
	__u8 h = len;
	for (int i = 0; i < MAX_CLIENT_ID_LEN; i++) {
		if (i >= len)
			break;
		__u8 *p = key + bounded(len - 1 - i, 0xff);
		if ((void *)(p + 1) > data_end)
			return 0; // cannot happen: the parser checked the key's bytes
		h = pearson[h ^ *p];
	}
	return h;
}

// PEARSON_STEP is one step of the RFC 3074 walk, from the last byte down,
// in 64-bit registers: the key byte and the table entry are bytes already,
// so their xor indexes the table as it is (the verifier sees the bound).
// The xor is written out because clang 14 does it in 32 bits and adds a
// mask to widen it, a sixth instruction on the chain of every step.
#define PEARSON_STEP(h, p, i)                                  \
	({                                                     \
		__u64 __k = (p)[i];                            \
		asm("%0 ^= %1" : "+r"(h) : "r"(__k));          \
		(h) = pearson[h];                              \
	})

// hash_short is hash_key for a key of at most MAX_HLEN bytes whose bytes
// the caller has bounds-checked, inline: chaddr, or an option 61 with room
// behind it. The switch enters the straight walk at the key's length (a
// few compares instead of one per possible byte), and there is no call
// (a BPF-to-BPF call and its return thunk cost several ns here).
static __always_inline __u8 hash_short(const __u8 *key, __u32 len)
{
	__u64 h = len & 0xff;
	if (len == ETH_ALEN) { // an Ethernet chaddr, or 61 as type + MAC's length less one: no search
		PEARSON_STEP(h, key, 5);
		PEARSON_STEP(h, key, 4);
		PEARSON_STEP(h, key, 3);
		PEARSON_STEP(h, key, 2);
		PEARSON_STEP(h, key, 1);
		PEARSON_STEP(h, key, 0);
		return h;
	}
	asm volatile("" : "+r"(len)); // else clang folds the test above into the switch
	switch (len) {
	case 16: PEARSON_STEP(h, key, 15); // fall through
	case 15: PEARSON_STEP(h, key, 14); // fall through
	case 14: PEARSON_STEP(h, key, 13); // fall through
	case 13: PEARSON_STEP(h, key, 12); // fall through
	case 12: PEARSON_STEP(h, key, 11); // fall through
	case 11: PEARSON_STEP(h, key, 10); // fall through
	case 10: PEARSON_STEP(h, key, 9); // fall through
	case 9: PEARSON_STEP(h, key, 8); // fall through
	case 8: PEARSON_STEP(h, key, 7); // fall through
	case 7: PEARSON_STEP(h, key, 6); // fall through
	case 6: PEARSON_STEP(h, key, 5); // fall through
	case 5: PEARSON_STEP(h, key, 4); // fall through
	case 4: PEARSON_STEP(h, key, 3); // fall through
	case 3: PEARSON_STEP(h, key, 2); // fall through
	case 2: PEARSON_STEP(h, key, 1); // fall through
	case 1: PEARSON_STEP(h, key, 0);
	}
	return h;
}

// client_bucket: option 61 when present and non-empty, else chaddr[0:hlen].
static __always_inline __u8 client_bucket(struct xdp_md *ctx, __u32 bootp_off, const struct request *req,
					  const struct xdhcp_config *cfg)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (req->cid_len && !(cfg->flags & FLAG_CHADDR_ONLY)) {
		__u8 *cid = data + bounded(req->cid_off, KEY_OFF_MASK);
		if (req->cid_len <= MAX_HLEN && (void *)(cid + MAX_HLEN) <= data_end)
			return hash_short(cid, req->cid_len);
		return hash_key(ctx, req->cid_off, req->cid_len);
	}
	__u8 *chaddr = data + bounded(bootp_off + BOOTP_CHADDR_OFF, OPTIONS_START_MASK);
	if ((void *)(chaddr + MAX_HLEN) > data_end)
		return hash_key(ctx, bootp_off + BOOTP_CHADDR_OFF, req->hlen); // cannot happen: parse_bootp checked it
	return hash_short(chaddr, req->hlen);
}

// owns says whether this server owns bucket: its bit in the assignment
// (set: the primary's), read against the role.
static __always_inline int owns(const struct xdhcp_config *cfg, __u8 bucket)
{
	__u32 primary = (cfg->hba[bucket >> 3] >> (bucket & 7)) & 1;
	return primary ^ (cfg->role != ROLE_PRIMARY);
}

static __always_inline __u16 effective_secs(__u16 secs, const struct xdhcp_config *cfg)
{
	if (!(cfg->flags & FLAG_SWAP_SECS))
		return secs;
	if (secs > 255 && (secs & 0xff) == 0)
		return secs >> 8;
	return secs;
}

// The coarse clock (the time at the last tick) cached against jiffies. The
// helper bpf_ktime_get_coarse_ns cost about 20 ns a packet here, a fifth of
// the whole decision; bpf_jiffies64 is inlined by the verifier (one load),
// and the coarse clock only moves when jiffies does, so the cache is
// refreshed once a tick. It is shared by the CPUs: a CPU that reads a new
// jiffies with the ns of the tick before is off by one tick, as the coarse
// clock itself can be. Writes happen at most once a tick per CPU.
struct coarse_clock {
	__u64 ns; // written before jiffies
	__u64 jiffies;
};
struct coarse_clock xdhcp_clock = {};

static __always_inline __u64 coarse_now(void)
{
	__u64 j = bpf_jiffies64();
	if (xdhcp_clock.jiffies != j) {
		xdhcp_clock.ns = bpf_ktime_get_coarse_ns();
		xdhcp_clock.jiffies = j;
	}
	return xdhcp_clock.ns;
}

// count_relay counts a hash-gated packet (outcome g) for its relay. Only
// what changed is written: the outcome's counter, the last-seen time once a
// tick, the largest override secs when it grows, the whole slot when
// another relay takes it over.
static __always_inline void count_relay(const struct request *req, __u32 g, __u16 secs)
{
	__u32 slot = (req->giaddr * FIBONACCI_32) >> RELAY_SLOT_SHIFT;
	struct xdhcp_relay_stats *s = bpf_map_lookup_elem(&xdhcp_relays, &slot);
	if (!s)
		return;
	if (unlikely(s->relay != req->giaddr)) {
		__builtin_memset(s, 0, sizeof(*s));
		s->relay = req->giaddr;
	}
	s->gated[g]++;
	if (g == REASON_SECS_OVERRIDE - GATE_FIRST && secs > s->max_override_secs)
		s->max_override_secs = secs;
	__u64 now = coarse_now(); // a tick is fine, and much cheaper
	if (s->last_seen_ns != now)
		s->last_seen_ns = now;
}

// hash_gate: the owner answers; the partner only once secs reaches the
// threshold. The outcome is found as its index among the gate's four
// reasons, which the counters use as it is.
static __always_inline int hash_gate(struct xdp_md *ctx, struct xdhcp_counters *st, __u32 bootp_off,
				     const struct request *req, const struct xdhcp_config *cfg)
{
	__u8 bucket = client_bucket(ctx, bootp_off, req, cfg);
	__u16 secs = 0;
	__u32 g;
	if (cfg->threshold == 0) {
		g = REASON_LB_OFF - GATE_FIRST;
	} else if (owns(cfg, bucket)) {
		g = REASON_OWNED - GATE_FIRST;
	} else {
		secs = effective_secs(req->secs, cfg);
		g = secs >= cfg->threshold ? REASON_SECS_OVERRIDE - GATE_FIRST : REASON_PARTNER_DROPPED - GATE_FIRST;
	}
	g &= GATE_OUTCOMES - 1; // the verifier's bound; no-op
	if (st)
		st->buckets[bucket].gated[g]++;
	if (cfg->flags & FLAG_RELAY_STATS)
		count_relay(req, g, secs);
	return GATE_FIRST + g;
}

// server_id_gate: a message naming a server belongs to that server. With no
// identifiers configured this server cannot tell, so the hash decides.
static __always_inline int server_id_gate(const struct request *req, const struct xdhcp_config *cfg)
{
	if (cfg->server_id_count == 0)
		return HASH_GATE;
#pragma unroll
	for (int i = 0; i < MAX_SERVER_IDS; i++) {
		if (i < cfg->server_id_count && cfg->server_ids[i] == req->server_id)
			return REASON_SERVER_ID_MINE;
	}
	return REASON_OTHER_SERVER_DROPPED;
}

// message_rule applies the NORMAL-state message rules: a reason, or
// HASH_GATE when the client's bucket decides.
static __always_inline int message_rule(const struct request *req, const struct xdhcp_config *cfg)
{
	if (unlikely(cfg->state != STATE_NORMAL))
		return REASON_STATE_PASS;
	if (unlikely(req->overload))
		return REASON_OVERLOAD;
	if (req->msg_type == MSG_DISCOVER) // the flood's kind: one test
		return HASH_GATE;
	switch (req->msg_type) {
	case MSG_NONE:
	case MSG_INFORM:
		return HASH_GATE;
	case MSG_REQUEST:
		if (req->ciaddr)
			return REASON_RENEW_REBIND;
		if (req->has_server_id)
			return server_id_gate(req, cfg);
		return HASH_GATE; // INIT-REBOOT
	case MSG_DECLINE:
	case MSG_RELEASE:
		if (req->has_server_id)
			return server_id_gate(req, cfg);
		return HASH_GATE;
	}
	return REASON_OTHER_MESSAGE;
}

// decide: the message rules, then the hash gate (inlined once) if they say so.
static __always_inline int decide(struct xdp_md *ctx, struct xdhcp_counters *st, __u32 bootp_off,
				  const struct request *req, const struct xdhcp_config *cfg)
{
	int reason = message_rule(req, cfg);
	if (reason == HASH_GATE)
		return hash_gate(ctx, st, bootp_off, req, cfg);
	return reason;
}

static __always_inline const struct xdhcp_config *active_config(void)
{
	__u32 zero = 0;
	__u32 *slot = bpf_map_lookup_elem(&xdhcp_active, &zero);
	if (!slot)
		return 0;
	__u32 idx = *slot & 1;
	return bpf_map_lookup_elem(&xdhcp_cfg, &idx);
}

// malformed: the configuration decides whether malformed requests are dropped.
static __always_inline int malformed(int reason, const struct xdhcp_config *cfg)
{
	if (reason == REASON_MALFORMED && (cfg->flags & FLAG_DROP_MALFORMED))
		return REASON_MALFORMED_DROPPED;
	return reason;
}

// decide_parsed applies the configuration to a parsed request: the walk's
// result (PARSE_OK, or the reason it stopped with), then the rules.
static __always_inline int decide_parsed(struct xdp_md *ctx, struct xdhcp_counters *st, __u32 bootp_off,
					 const struct request *req, const struct xdhcp_config *cfg, int parsed)
{
	if (parsed != PARSE_OK)
		return malformed(parsed, cfg);
	return decide(ctx, st, bootp_off, req, cfg);
}

// classify parses the BOOTP message at bootp_off and decides its verdict.
static __always_inline int classify(struct xdp_md *ctx, struct xdhcp_counters *st, __u32 bootp_off, __u32 bootp_len)
{
	const struct xdhcp_config *cfg = active_config();
	if (!cfg)
		return REASON_STATE_PASS;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *bootp = data + (bootp_off & 0xff);
	struct request req = {};
	int parsed = parse_bootp(ctx, bootp, data_end, bootp_off, bootp_len, &req);
	return decide_parsed(ctx, st, bootp_off, &req, cfg, parsed);
}

// The usual frame: untagged IPv4 without IP options, UDP, BOOTP from here.
#define PLAIN_BOOTP_OFF (ETH_HLEN + IP_MIN_HDR_LEN + UDP_HLEN)
#define PLAIN_OPTIONS_OFF (PLAIN_BOOTP_OFF + BOOTP_OPTIONS_OFF)
#define UDP_HLEN 8

// WORD is the 32-bit value of four frame bytes loaded at once.
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORD(b0, b1, b2, b3) ((__u32)(b0) | (__u32)(b1) << 8 | (__u32)(b2) << 16 | (__u32)(b3) << 24)
#else
#define WORD(b0, b1, b2, b3) ((__u32)(b3) | (__u32)(b2) << 8 | (__u32)(b1) << 16 | (__u32)(b0) << 24)
#endif
// Bytes 12-15: EtherType IPv4, version 4 with a 5-word header (TOS any).
#define PLAIN_W12_MASK WORD(0xff, 0xff, 0xff, 0)
#define PLAIN_W12 WORD(0x08, 0x00, IPV4_NO_OPTIONS, 0)
// Bytes 20-23: no fragment offset, no more-fragments (TTL any), UDP.
#define PLAIN_W20_MASK WORD(IP_FRAG_MASK >> 8, IP_FRAG_MASK & 0xff, 0, 0xff)
#define PLAIN_W20 WORD(0, 0, 0, IP_PROTO_UDP)
// Bytes 42-45 (BOOTP op, htype, hlen, hops): op and hlen.
#define PLAIN_W42_OP(w) ((w) & WORD(0xff, 0, 0, 0))
#define PLAIN_W42_HLEN(w) (((w) & WORD(0, 0, 0xff, 0)) >> (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? 16 : 8))

// plain_request reads the usual frame at constant offsets, a word at a
// time: untagged IPv4 without options, unfragmented, UDP to 67 with
// consistent lengths, a BOOTREQUEST with hlen <= 16 and the magic cookie,
// and at least one option byte. It fills req's fixed fields and returns
// the BOOTP length, or 0: the general parse then takes the frame (every
// other shape, and the verdicts these checks leave to it: fragments,
// malformed lengths, replies, plain BOOTP), so the two agree on every
// frame. The loads come first and the compares after, so the frame's cache
// lines are fetched at once rather than one after the other.
static __always_inline __u32 plain_request(void *data, void *data_end, struct request *req)
{
	if (data + PLAIN_OPTIONS_OFF + 1 > data_end)
		return 0;
	__u32 w12 = *(__u32 *)(data + 12);
	__u32 w20 = *(__u32 *)(data + 20);
	__u16 dport = *(__u16 *)(data + 36);
	__u32 udp_len = bpf_ntohs(*(__u16 *)(data + 38));
	__u32 tot_len = bpf_ntohs(*(__u16 *)(data + 16));
	__u32 w42 = *(__u32 *)(data + PLAIN_BOOTP_OFF);
	__u32 cookie = *(__u32 *)(data + PLAIN_BOOTP_OFF + BOOTP_COOKIE_OFF);
	__u32 giaddr = *(__u32 *)(data + PLAIN_BOOTP_OFF + BOOTP_GIADDR_OFF);
	// Issued before any compare: the frame's lines (0: headers; 1: giaddr
	// and chaddr; 4: cookie and options) are fetched together.
	asm volatile("" ::"r"(w12), "r"(giaddr), "r"(cookie));
	if (unlikely((w12 & PLAIN_W12_MASK) != PLAIN_W12 || (w20 & PLAIN_W20_MASK) != PLAIN_W20 ||
		     dport != bpf_htons(DHCP_SERVER_PORT)))
		return 0;
	// udp_len - UDP_HLEN > BOOTP_OPTIONS_OFF also says udp_len >= UDP_HLEN.
	if (unlikely(udp_len <= UDP_HLEN + BOOTP_OPTIONS_OFF || tot_len < IP_MIN_HDR_LEN + udp_len ||
		     data + ETH_HLEN + IP_MIN_HDR_LEN + udp_len > data_end))
		return 0;
	if (unlikely(PLAIN_W42_OP(w42) != WORD(BOOTREQUEST, 0, 0, 0) || PLAIN_W42_HLEN(w42) > MAX_HLEN ||
		     cookie != bpf_htonl(DHCP_MAGIC_COOKIE)))
		return 0;
	req->hlen = PLAIN_W42_HLEN(w42);
	req->secs = bpf_ntohs(*(__u16 *)(data + PLAIN_BOOTP_OFF + BOOTP_SECS_OFF));
	req->ciaddr = *(__u32 *)(data + PLAIN_BOOTP_OFF + BOOTP_CIADDR_OFF);
	req->giaddr = giaddr;
	return udp_len - UDP_HLEN;
}

// stats is this CPU's counters (never absent: a per-CPU array of one).
static __always_inline struct xdhcp_counters *stats(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&xdhcp_stats, &zero);
}

// take_slot gives interface slot s to ifindex, its counts moved to
// other_ifaces. A call: it runs when an interface first shows up.
static __attribute__((noinline)) void take_slot(struct xdhcp_counters *st, struct xdhcp_iface_stats *s, __u32 ifindex)
{
	for (int r = 0; r < REASON_MAX; r++) {
		st->other_ifaces.verdicts[r] += s->verdicts[r];
		s->verdicts[r] = 0;
	}
	s->ifindex = ifindex;
}

// DROPPING has a bit set for each reason whose packets are dropped.
#define DROPPING (1u << REASON_MALFORMED_DROPPED | 1u << REASON_OTHER_SERVER_DROPPED | 1u << REASON_PARTNER_DROPPED)

// verdict counts the packet under its receiving interface (one increment)
// and returns the action.
static __always_inline int verdict(struct xdp_md *ctx, struct xdhcp_counters *st, __u32 reason)
{
	if (reason >= REASON_MAX)
		return XDP_PASS; // cannot happen: only reasons get here
	__u32 ifindex = ctx->ingress_ifindex;
	if (st) {
		struct xdhcp_iface_stats *s = &st->ifaces[ifindex & IFACE_SLOT_MASK];
		if (unlikely(s->ifindex != ifindex))
			take_slot(st, s, ifindex);
		s->verdicts[reason]++;
	}
	return (DROPPING >> reason) & 1 ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int xdhcp_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xdhcp_counters *st = stats();
	struct request req = {};
	int reason;

	__u32 bootp_len = plain_request(data, data_end, &req);
	if (likely(bootp_len)) {
		// The usual frame: every offset a constant.
		const struct xdhcp_config *cfg = active_config();
		if (!cfg) {
			reason = REASON_STATE_PASS;
		} else {
			int parsed = walk_options(ctx, data_end, PLAIN_OPTIONS_OFF, bootp_len - BOOTP_OPTIONS_OFF, &req);
			reason = decide_parsed(ctx, st, PLAIN_BOOTP_OFF, &req, cfg, parsed);
		}
	} else {
		__u32 bootp_off = 0;
		reason = parse_l2_l4(data, data_end, &bootp_off, &bootp_len);
		if (reason == PARSE_OK) {
			reason = classify(ctx, st, bootp_off, bootp_len);
		} else if (reason == REASON_MALFORMED) {
			const struct xdhcp_config *cfg = active_config();
			if (cfg)
				reason = malformed(reason, cfg);
		}
	}
	return verdict(ctx, st, reason);
}
