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

struct xdhcp_bucket_stats {
	__u64 seen;
	__u64 dropped;
	__u64 overridden;
};

struct xdhcp_relay_stats {
	__u32 relay; // giaddr, network order; 0 is "direct" (on-link clients)
	__u16 max_override_secs;
	__u16 pad;
	__u64 requests; // hash-gated requests through this relay
	__u64 owned;
	__u64 partner_dropped;
	__u64 partner_overridden;
	__u64 last_seen_ns;
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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASON_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xdhcp_verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NUM_BUCKETS);
	__type(key, __u32);
	__type(value, struct xdhcp_bucket_stats);
} xdhcp_buckets SEC(".maps");

// Verdict counters per receiving interface: a direct-mapped per-CPU table
// by ifindex (an interface landing on a slot held by another takes it over).
struct xdhcp_iface_stats {
	__u32 ifindex;
	__u32 pad;
	__u64 verdicts[REASON_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IFACE_SLOTS);
	__type(key, __u32);
	__type(value, struct xdhcp_iface_stats);
} xdhcp_ifaces SEC(".maps");

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

// plain_udp67 is parse_l2_l4's PARSE_OK for the usual frame, untagged IPv4
// without IP options, unfragmented, to UDP 67 with consistent lengths, at
// constant offsets; 0 sends every other frame to the general walk.
static __always_inline int plain_udp67(void *data, void *data_end, __u32 *bootp_len)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > data_end)
		return 0;
	if (eth->h_proto != bpf_htons(ETH_P_IP) || *(__u8 *)ip != IPV4_NO_OPTIONS || ip->protocol != IP_PROTO_UDP ||
	    (ip->frag_off & bpf_htons(IP_FRAG_MASK)) || udp->dest != bpf_htons(DHCP_SERVER_PORT))
		return 0;
	__u32 udp_len = bpf_ntohs(udp->len);
	if (udp_len < sizeof(*udp) || bpf_ntohs(ip->tot_len) < IP_MIN_HDR_LEN + udp_len ||
	    (void *)udp + udp_len > data_end)
		return 0;
	*bootp_len = udp_len - sizeof(*udp);
	return 1;
}

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
	if (off > MAX_OPTIONS_LEN)
		return REASON_MALFORMED;
	__u8 *p = opts + bounded(off, OPTIONS_LEN_MASK);
	if ((void *)(p + 1) > data_end)
		return REASON_MALFORMED;
	__u8 code = p[0];
	if (code == OPT_PAD) {
		*offp = bounded(off + 1, OPTIONS_LEN_MASK);
		return OPT_CONTINUE;
	}
	if (code == OPT_END)
		return PARSE_OK;
	if (off + 2 > limit || (void *)(p + 2) > data_end)
		return REASON_MALFORMED;
	__u32 len = p[1];
	if (off + 2 + len > limit)
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

// PEARSON_STEP is one step of the RFC 3074 walk, from the last byte down.
#define PEARSON_STEP(h, p, i) (h) = pearson[(h) ^ (p)[i]]

// hash_short is hash_key for a key of at most MAX_HLEN bytes whose bytes
// the caller has bounds-checked, inline: chaddr, or an option 61 with room
// behind it. The switch enters the straight walk at the key's length (a
// few compares instead of one per possible byte), and there is no call
// (a BPF-to-BPF call and its return thunk cost several ns here).
static __always_inline __u8 hash_short(const __u8 *key, __u32 len)
{
	__u8 h = len;
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

static __always_inline int owns(const struct xdhcp_config *cfg, __u8 bucket)
{
	int primary = (cfg->hba[bucket >> 3] >> (bucket & 7)) & 1;
	return primary == (cfg->role == ROLE_PRIMARY);
}

static __always_inline __u16 effective_secs(__u16 secs, const struct xdhcp_config *cfg)
{
	if ((cfg->flags & FLAG_SWAP_SECS) && secs > 255 && (secs & 0xff) == 0)
		return secs >> 8;
	return secs;
}

static __always_inline void count_bucket(__u8 bucket, int reason)
{
	__u32 key = bucket;
	struct xdhcp_bucket_stats *s = bpf_map_lookup_elem(&xdhcp_buckets, &key);
	if (!s)
		return;
	s->seen++;
	if (reason == REASON_PARTNER_DROPPED)
		s->dropped++;
	else if (reason == REASON_SECS_OVERRIDE)
		s->overridden++;
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

static __always_inline void count_relay(const struct request *req, int reason, __u16 secs)
{
	__u32 slot = (req->giaddr * FIBONACCI_32) >> RELAY_SLOT_SHIFT;
	struct xdhcp_relay_stats *s = bpf_map_lookup_elem(&xdhcp_relays, &slot);
	if (!s)
		return;
	if (s->relay != req->giaddr || !s->requests) {
		__builtin_memset(s, 0, sizeof(*s));
		s->relay = req->giaddr;
	}
	s->requests++;
	if (reason == REASON_OWNED)
		s->owned++;
	else if (reason == REASON_PARTNER_DROPPED)
		s->partner_dropped++;
	else if (reason == REASON_SECS_OVERRIDE) {
		s->partner_overridden++;
		if (secs > s->max_override_secs)
			s->max_override_secs = secs;
	}
	s->last_seen_ns = coarse_now(); // a tick is fine, and much cheaper
}

// hash_gate: the owner answers; the partner only once secs reaches the threshold.
static __always_inline int hash_gate(struct xdp_md *ctx, __u32 bootp_off, const struct request *req,
				     const struct xdhcp_config *cfg)
{
	__u8 bucket = client_bucket(ctx, bootp_off, req, cfg);
	__u16 secs = effective_secs(req->secs, cfg);
	int reason;
	if (cfg->threshold == 0)
		reason = REASON_LB_OFF;
	else if (owns(cfg, bucket))
		reason = REASON_OWNED;
	else if (secs >= cfg->threshold)
		reason = REASON_SECS_OVERRIDE;
	else
		reason = REASON_PARTNER_DROPPED;
	count_bucket(bucket, reason);
	if (cfg->flags & FLAG_RELAY_STATS)
		count_relay(req, reason, secs);
	return reason;
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
	if (cfg->state != STATE_NORMAL)
		return REASON_STATE_PASS;
	if (req->overload)
		return REASON_OVERLOAD;
	switch (req->msg_type) {
	case MSG_NONE:
	case MSG_DISCOVER:
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
static __always_inline int decide(struct xdp_md *ctx, __u32 bootp_off, const struct request *req,
				  const struct xdhcp_config *cfg)
{
	int reason = message_rule(req, cfg);
	if (reason == HASH_GATE)
		return hash_gate(ctx, bootp_off, req, cfg);
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

// PLAIN_BOOTP_OFF is where BOOTP starts in an untagged IPv4 frame without
// IP options: the shape of nearly every DHCP request.
#define PLAIN_BOOTP_OFF (ETH_HLEN + IP_MIN_HDR_LEN + UDP_HLEN)
#define UDP_HLEN 8

// malformed: the configuration decides whether malformed requests are dropped.
static __always_inline int malformed(int reason, const struct xdhcp_config *cfg)
{
	if (reason == REASON_MALFORMED && (cfg->flags & FLAG_DROP_MALFORMED))
		return REASON_MALFORMED_DROPPED;
	return reason;
}

// classify parses the BOOTP message at bootp_off and decides its verdict.
static __always_inline int classify(struct xdp_md *ctx, __u32 bootp_off, __u32 bootp_len)
{
	const struct xdhcp_config *cfg = active_config();
	if (!cfg)
		return REASON_STATE_PASS;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *bootp = data + (bootp_off & 0xff);
	struct request req = {};
	int reason = parse_bootp(ctx, bootp, data_end, bootp_off, bootp_len, &req);
	if (reason != PARSE_OK)
		return malformed(reason, cfg);
	return decide(ctx, bootp_off, &req, cfg);
}


static __always_inline void count_iface(struct xdp_md *ctx, int reason)
{
	__u32 ifindex = ctx->ingress_ifindex;
	__u32 slot = ifindex & IFACE_SLOT_MASK;
	struct xdhcp_iface_stats *s = bpf_map_lookup_elem(&xdhcp_ifaces, &slot);
	if (!s)
		return;
	if (s->ifindex != ifindex) {
		__builtin_memset(s, 0, sizeof(*s));
		s->ifindex = ifindex;
	}
	if (reason >= 0 && reason < REASON_MAX)
		s->verdicts[reason]++;
}

static __always_inline int verdict(struct xdp_md *ctx, int reason)
{
	__u32 key = reason;
	__u64 *n = bpf_map_lookup_elem(&xdhcp_verdicts, &key);
	if (n)
		(*n)++;
	count_iface(ctx, reason);
	switch (reason) {
	case REASON_MALFORMED_DROPPED:
	case REASON_OTHER_SERVER_DROPPED:
	case REASON_PARTNER_DROPPED:
		return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("xdp")
int xdhcp_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 bootp_off = 0, bootp_len = 0;

	// The usual frame takes the same steps with every offset a constant:
	// clang folds them, and the loads of chaddr and the options need not
	// wait for the IPv4 header's length to arrive from memory.
	if (plain_udp67(data, data_end, &bootp_len))
		return verdict(ctx, classify(ctx, PLAIN_BOOTP_OFF, bootp_len));

	int reason = parse_l2_l4(data, data_end, &bootp_off, &bootp_len);
	if (reason == PARSE_OK)
		return verdict(ctx, classify(ctx, bootp_off, bootp_len));
	if (reason != REASON_MALFORMED)
		return verdict(ctx, reason);
	const struct xdhcp_config *cfg = active_config();
	return verdict(ctx, cfg ? malformed(reason, cfg) : reason);
}
