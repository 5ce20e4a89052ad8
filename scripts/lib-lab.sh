# lib-lab.sh: sourced by the bench and profile scripts (not run alone).

# lab_pair ID: namespaces IDs (srv0 198.18.0.1/15) and IDc (pf0
# 198.18.0.2/15), joined by a veth pair; the caller deletes them.
lab_pair() {
	local id=$1 s=$1s c=$1c
	ip netns add "$s"
	ip netns add "$c"
	ip link add "${id}a" type veth peer name "${id}b"
	ip link set "${id}a" netns "$s"
	ip link set "${id}b" netns "$c"
	ip -n "$s" link set "${id}a" name srv0
	ip -n "$c" link set "${id}b" name pf0
	ip -n "$s" addr add 198.18.0.1/15 dev srv0
	ip -n "$c" addr add 198.18.0.2/15 dev pf0
	for n in "$s" "$c"; do
		ip -n "$n" link set lo up
	done
	ip -n "$s" link set srv0 up
	ip -n "$c" link set pf0 up
}
