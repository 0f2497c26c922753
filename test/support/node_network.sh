# What a node's container networking leaves on the host when the node is killed with its
# replicas still attached (a test that ends with deployments running, a failed test): its
# bridges, its nftables table, and the iptables rules the CNI bridge (ipMasq) and firewall
# plugins added for its addresses. Sourced by test/integration/node/lib.sh and bench/lib.sh.

# network_tag CIDR: the hex digits of the range's fixed nibbles (common/network_names.h).
network_tag() {
  local a b c d p hex n
  IFS=./ read -r a b c d p <<<"$1"
  hex=$(printf '%02x%02x%02x%02x' "$a" "$b" "$c" "$d")
  n=$((p / 4)); ((n < 1)) && n=1
  echo "${hex:0:n}"
}

# remove_node_network CIDR: removes the pieces of the node whose ZLAYER_NETWORK_CIDR is CIDR.
remove_node_network() {
  local tag octets re table rule chain br
  tag=$(network_tag "$1")
  for br in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | grep "^zl$tag"); do
    ip link delete "$br" 2>/dev/null
  done
  nft delete table ip "zlayer_$tag" 2>/dev/null
  # Rules naming an address of the range (its whole octets: 10.241. for a /16).
  octets=$(( ${1#*/} / 8 ))
  re=$(cut -d. -f1-"$octets" <<<"${1%/*}" | sed 's/\./\\./g')'\.'
  for table in nat filter; do
    iptables -t "$table" -S 2>/dev/null | grep -E -- "-[sd] $re" | sed 's/^-A /-D /' |
      while read -r rule; do eval "iptables -w -t $table $rule" 2>/dev/null; done
  done
  # ipMasq chains (CNI-<hash>) no rule jumps to any more.
  for chain in $(iptables -t nat -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^CNI-/ && $2 != "CNI-HOSTPORT-MASQ" {print $2}'); do
    if ! iptables -t nat -S 2>/dev/null | grep -q -- "-j $chain\$"; then
      iptables -w -t nat -F "$chain" 2>/dev/null && iptables -w -t nat -X "$chain" 2>/dev/null
    fi
  done
  return 0
}
