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

// Set by userspace at load time (the program is loaded for every run), so
// the verifier folds them in: no lookup per packet.
volatile const __u32 gen_ifindex = 0;    // redirect target
volatile const __u32 gen_clients_n = 1;  // entries of gen_clients in use (>= 1)
volatile const __u32 gen_cpu_stride = 0; // start offset between CPUs' client sequences
volatile const __u32 gen_secs_min = 0;
volatile const __u32 gen_secs_span = 1; // max - min + 1 (1..65536)
volatile const __u32 gen_rewrite = 1;   // 0: send the template unchanged (the baseline)

struct gen_client {
	__u8 mac[MAC_LEN];
	__u8 pad[2];
};

// Sized by userspace at load time.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_client);
} gen_clients SEC(".maps");

// Per CPU: frames handed to the redirect (a retried test run repeats frames,
// so userspace cannot count them itself) and the next client.
struct gen_state {
	__u64 sent;
	__u32 next;
	__u32 started;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_state);
} gen_sent SEC(".maps");

const struct gen_client *unused_gen_client __attribute__((unused));
const struct gen_state *unused_gen_state __attribute__((unused));

SEC("xdp")
int xdhcp_gen(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data;
	__u8 *end = (__u8 *)(long)ctx->data_end;
	__u32 zero = 0;

	struct gen_state *st = bpf_map_lookup_elem(&gen_sent, &zero);
	if (!st)
		return XDP_ABORTED;
	st->sent++;
	if (!gen_rewrite)
		return bpf_redirect(gen_ifindex, 0);

	if (data + BOOTP_OFF + BOOTP_CHADDR_OFF + MAC_LEN > end)
		return XDP_ABORTED;
	if (!st->started) {
		st->next = (bpf_get_smp_processor_id() * gen_cpu_stride) % gen_clients_n;
		st->started = 1;
	}
	__u32 idx = st->next;
	st->next = idx + 1 < gen_clients_n ? idx + 1 : 0;
	struct gen_client *c = bpf_map_lookup_elem(&gen_clients, &idx);
	if (!c)
		return XDP_ABORTED;
	__builtin_memcpy(data + ETH_SRC_OFF, c->mac, MAC_LEN);
	__builtin_memcpy(data + BOOTP_OFF + BOOTP_CHADDR_OFF, c->mac, MAC_LEN);
	__u32 r = bpf_get_prandom_u32();
	__builtin_memcpy(data + BOOTP_OFF + BOOTP_XID_OFF, &r, 4);
	// 16 random bits scaled onto the range: no division per packet.
	__u16 secs = bpf_htons((__u16)(gen_secs_min + (((__u64)(r >> 16) * gen_secs_span) >> 16)));
	__builtin_memcpy(data + BOOTP_OFF + BOOTP_SECS_OFF, &secs, 2);
	return bpf_redirect(gen_ifindex, 0);
}
