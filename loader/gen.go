package loader

//go:generate go tool bpf2go -tags linux -target bpfel -type xdhcp_config -type xdhcp_reason -type xdhcp_flags -type xdhcp_counters -type xdhcp_bucket_stats -type xdhcp_relay_stats -type xdhcp_iface_stats xdhcp ../bpf/xdhcp.c -- -O2 -mcpu=v3 -Wall -Werror -nostdinc -I../bpf/headers
