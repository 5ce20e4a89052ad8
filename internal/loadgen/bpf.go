package loadgen

//go:generate go tool bpf2go -tags linux -target bpfel -type gen_client -type gen_state gen ../../bpf/gen.c -- -O2 -Wall -Werror -nostdinc -I../../bpf/headers
