// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// xdhcp_gen: a DHCP load generator that runs inside BPF_PROG_TEST_RUN with
// BPF_F_TEST_XDP_LIVE_FRAMES. The kernel hands it the same template frame on
// every repetition; it stamps a client's MAC (Ethernet source and chaddr), a
// fresh xid and a secs value in place, then redirects the frame out of the
// configured interface. The client MACs come from userspace (gen_clients), so
// the share of clients that hash to each server of the pair is chosen there
// with the same RFC 3074 hash the servers use.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Offsets in the templates userspace builds: Ethernet (14), IPv4 without
// options (20), UDP (8), then BOOTP.
#define ETH_SRC_OFF 6
#define BOOTP_OFF 42
#define BOOTP_XID_OFF 4
#define BOOTP_SECS_OFF 8
#define BOOTP_CHADDR_OFF 28
#define MAC_LEN 6

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct gen_config {
	__u32 ifindex;    // redirect target
	__u32 clients;    // entries of gen_clients in use (>= 1)
	__u32 cpu_stride; // start offset between CPUs' client sequences
	__u32 secs_min;
	__u32 secs_span; // max - min + 1 (1..65536)
	__u32 rewrite;   // 0: send the template unchanged (the baseline)
};

struct gen_client {
	__u8 mac[MAC_LEN];
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_config);
} gen_cfg SEC(".maps");

// Sized by userspace at load time.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_client);
} gen_clients SEC(".maps");

// Frames handed to the redirect, per CPU: the sent count (a retried test run
// repeats frames, so userspace cannot count them itself) and the client index.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gen_sent SEC(".maps");

const struct gen_config *unused_gen_config __attribute__((unused));
const struct gen_client *unused_gen_client __attribute__((unused));

SEC("xdp")
int xdhcp_gen(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	__u32 zero = 0;

	struct gen_config *cfg = bpf_map_lookup_elem(&gen_cfg, &zero);
	__u64 *sent = bpf_map_lookup_elem(&gen_sent, &zero);
	if (!cfg || !sent || cfg->clients == 0 || cfg->secs_span == 0)
		return XDP_ABORTED;
	__u64 n = *sent;

	if (cfg->rewrite) {
		if (data + BOOTP_OFF + BOOTP_CHADDR_OFF + MAC_LEN > end)
			return XDP_ABORTED;
		__u64 seq = n + (__u64)bpf_get_smp_processor_id() * cfg->cpu_stride;
		__u32 idx = (__u32)(seq % cfg->clients);
		struct gen_client *c = bpf_map_lookup_elem(&gen_clients, &idx);
		if (!c)
			return XDP_ABORTED;
		__builtin_memcpy(data + ETH_SRC_OFF, c->mac, MAC_LEN);
		__builtin_memcpy(data + BOOTP_OFF + BOOTP_CHADDR_OFF, c->mac, MAC_LEN);
		__u32 r = bpf_get_prandom_u32();
		__builtin_memcpy(data + BOOTP_OFF + BOOTP_XID_OFF, &r, 4);
		__u16 secs = bpf_htons((__u16)(cfg->secs_min + (r >> 8) % cfg->secs_span));
		__builtin_memcpy(data + BOOTP_OFF + BOOTP_SECS_OFF, &secs, 2);
	}
	*sent = n + 1;
	return bpf_redirect(cfg->ifindex, 0);
}
