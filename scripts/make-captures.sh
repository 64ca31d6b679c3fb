#!/usr/bin/env bash
# Regenerate the sample captures in captures/ (documented in captures/README.md).
#
#   sudo ./scripts/make-captures.sh
#
# All traffic stays inside two throw-away network namespaces created here
# (nlcap-a, nlcap-b, joined by a veth pair, plus a TUN device inside nlcap-a)
# or on the namespaces' own loopback.  The host's interfaces, routes and
# sysctls are never touched; only per-namespace sysctls are set.  Every
# namespace and background process created here is removed on exit.
#
# Needs: iproute2, tcpdump, dumpcap/mergecap/capinfos/tshark (wireshark
# tools), python3, curl, ping (iputils-ping), ethtool.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
OUT="$REPO/captures"
HELPERS="$HERE/capture-helpers/helpers.py"
CONVERT="$HERE/capture-helpers/convert.py"

NSA=nlcap-a
NSB=nlcap-b
MAC_A=02:00:00:99:00:01
MAC_B=02:00:00:99:00:02
A4=10.99.0.1
B4=10.99.0.2
A6=fd00:99::1
B6=fd00:99::2
TUN=tun0
TUN_A4=10.99.1.1      # address of nlcap-a on the TUN device
TUN_PEER4=10.99.1.2   # "remote" end, answered by helpers.py tun-responder
TUN_A6=fd00:99:1::1
TUN_PEER6=fd00:99:1::2

if [[ $EUID -ne 0 ]]; then
    echo "must run as root: sudo $0" >&2
    exit 1
fi
missing=()
for tool in ip ss tcpdump dumpcap mergecap capinfos tshark python3 curl ping ethtool; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "missing tools: ${missing[*]}" >&2
    echo "(apt-get install iproute2 tcpdump tshark python3 curl iputils-ping ethtool)" >&2
    exit 1
fi

WORK="$(mktemp -d /tmp/nlcap.XXXXXX)"
chmod 755 "$WORK"
PIDS=()

log() { printf '== %s\n' "$*"; }

# Remove our namespaces (and any process still running inside them, e.g.
# left over from an interrupted earlier run).
remove_namespaces() {
    local ns pid
    for ns in "$NSA" "$NSB"; do
        if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
            for pid in $(ip netns pids "$ns" 2>/dev/null); do
                kill "$pid" 2>/dev/null || true
            done
            ip netns del "$ns"
        fi
    done
}

cleanup() {
    set +e
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    remove_namespaces   # also kills anything still running inside them
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsa() { ip netns exec "$NSA" "$@"; }
nsb() { ip netns exec "$NSB" "$@"; }

# spawn NS CMD...: start CMD in the background inside NS; pid in $BG.
spawn() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@" >>"$WORK/background.log" 2>&1 &
    BG=$!
    PIDS+=("$BG")
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

wait_for() { # FILE PATTERN: wait until PATTERN appears in FILE
    local i
    for i in $(seq 200); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "timeout waiting for '$2' in $1:" >&2
    cat "$1" >&2
    return 1
}

wait_listen() { # NS tcp|udp PORT
    local i flag=-Hltn
    [[ $2 == udp ]] && flag=-Hlun
    for i in $(seq 200); do
        [[ -n "$(ip netns exec "$1" ss $flag "sport = :$3")" ]] && return 0
        sleep 0.05
    done
    echo "timeout waiting for $2 port $3 in $1" >&2
    return 1
}

# cap_start NS FILE TCPDUMP-ARGS...: start tcpdump (immediate mode, packet
# buffered output) inside NS writing $WORK/FILE; pid in $CAP.
cap_start() {
    local ns=$1 file=$2
    shift 2
    local logf="$WORK/$file.log"
    : >"$logf"
    ip netns exec "$ns" tcpdump -Z root -n -U --immediate-mode -w "$WORK/$file" "$@" >"$logf" 2>&1 &
    CAP=$!
    PIDS+=("$CAP")
    wait_for "$logf" 'listening on'
    sleep 0.2
}

# cap_stop PID: let the last packets arrive, then SIGINT and wait.
cap_stop() {
    sleep 0.7
    kill -INT "$1"
    wait "$1" || true
}

ping4() { nsa ping -n -q -i 0.2 "$@" >/dev/null; }
ping6() { nsa ping -6 -n -q -i 0.2 "$@" >/dev/null; }
helper() { local ns=$1; shift; ip netns exec "$ns" python3 "$HELPERS" "$@"; }

static_neigh() { # make veth neighbour entries permanent (no ARP/ND noise)
    nsa ip neigh replace "$B4" lladdr "$MAC_B" dev veth-a nud permanent
    nsb ip neigh replace "$A4" lladdr "$MAC_A" dev veth-b nud permanent
    nsa ip -6 neigh replace "$B6" lladdr "$MAC_B" dev veth-a nud permanent
    nsb ip -6 neigh replace "$A6" lladdr "$MAC_A" dev veth-b nud permanent
}

flush_neigh() { # FAMILY (-4|-6): remove all veth neighbour entries
    nsa ip "$1" neigh flush dev veth-a nud all
    nsb ip "$1" neigh flush dev veth-b nud all
}

# --------------------------------------------------------------------------
setup() {
    log "creating namespaces $NSA / $NSB"
    remove_namespaces
    ip netns add "$NSA"
    ip netns add "$NSB"
    local ns k
    for ns in "$NSA" "$NSB"; do
        # per-namespace sysctls: no DAD delay, no router solicitations,
        # ignore router advertisements (we send our own RA in ping6.pcap)
        for k in all default; do
            ip netns exec "$ns" sysctl -qw \
                "net.ipv6.conf.$k.accept_dad=0" \
                "net.ipv6.conf.$k.router_solicitations=0" \
                "net.ipv6.conf.$k.accept_ra=0"
        done
        ip netns exec "$ns" ip link set lo up
        # lo has checksum offload: packets would be captured with partial
        # checksums.  Turn it off so captures carry real checksums.
        ip netns exec "$ns" ethtool -K lo tx off >/dev/null 2>&1 || true
    done

    # the veth pair is created directly inside the namespaces
    ip link add veth-a netns "$NSA" address "$MAC_A" type veth \
        peer name veth-b netns "$NSB" address "$MAC_B"
    # no checksum/segmentation offload: captured packets have valid
    # checksums and are never larger than the MTU
    nsa ethtool -K veth-a tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    nsb ethtool -K veth-b tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
    nsa ip addr add "$A4/24" dev veth-a
    nsb ip addr add "$B4/24" dev veth-b
    nsa ip addr add "$A6/64" dev veth-a nodad
    nsb ip addr add "$B6/64" dev veth-b nodad
    nsa ip link set veth-a up
    nsb ip link set veth-b up

    # TUN device in nlcap-a; the "remote" side is a python responder
    nsa ip tuntap add dev "$TUN" mode tun
    spawn "$NSA" python3 "$HELPERS" tun-responder "$TUN"
    nsa ip addr add "$TUN_A4/24" dev "$TUN"
    nsa ip addr add "$TUN_A6/64" dev "$TUN" nodad
    nsa ip link set "$TUN" up

    static_neigh
    # let link-up chatter (MLD reports etc.) die down before capturing
    sleep 1.5
    ping4 -c 1 -W 2 "$B4"
    ping6 -c 1 -W 2 "$B6"
    ping4 -c 1 -W 2 "$TUN_PEER4"
}

start_servers() {
    log "starting helper servers in $NSB"
    spawn "$NSB" python3 "$HELPERS" http-server :: 80
    spawn "$NSB" python3 "$HELPERS" dns-server :: 53
    spawn "$NSB" python3 "$HELPERS" udp-echo :: 7
    wait_listen "$NSB" tcp 80
    wait_listen "$NSB" udp 53
    wait_listen "$NSB" udp 7
}

CURL=(curl -sS --noproxy '*' --http1.1 --max-time 5)

# --------------------------------------------------------------------------
cap_http() {
    log "http.pcap"
    cap_start "$NSA" http.pcap -i veth-a tcp port 80
    nsa "${CURL[@]}" -o /dev/null -o /dev/null "http://$B4/" "http://$B4/hello.txt"
    cap_stop "$CAP"
}

cap_truncated() {
    log "truncated-snaplen.pcap"
    cap_start "$NSA" truncated-snaplen.pcap -i veth-a -s 60 tcp port 80
    nsa "${CURL[@]}" -o /dev/null "http://$B4/data.txt"
    cap_stop "$CAP"
}

cap_tcp_rst() {
    log "tcp-rst.pcap"
    cap_start "$NSA" tcp-rst.pcap -i veth-a tcp
    helper "$NSA" tcp-refused "$B4" 81
    helper "$NSA" tcp-refused "$B6" 81
    helper "$NSA" tcp-abort "$B4" 80
    cap_stop "$CAP"
}

cap_tcp6() {
    log "tcp6.pcap"
    cap_start "$NSA" tcp6.pcap -i veth-a ip6 and tcp
    nsa "${CURL[@]}" -g -o /dev/null -o /dev/null "http://[$B6]/data.txt" "http://[$B6]/hello.txt"
    cap_stop "$CAP"
}

dns_queries() {
    helper "$NSA" dns-query "$B4" 53 netlab.test A 0x1001
    helper "$NSA" dns-query "$B4" 53 netlab.test AAAA 0x1002
    helper "$NSA" dns-query "$B4" 53 www.netlab.test A 0x1003
    helper "$NSA" dns-query "$B4" 53 nosuch.netlab.test A 0x1004
    helper "$NSA" dns-query "$B4" 53 outside.invalid A 0x1005
    helper "$NSA" dns-query "$B6" 53 netlab.test A 0x1006
}

cap_dns() {
    log "dns.pcap"
    cap_start "$NSA" dns.pcap -i veth-a udp port 53
    dns_queries
    cap_stop "$CAP"
}

cap_ping4() {
    log "ping4.pcap"
    cap_start "$NSA" ping4.pcap -i veth-a icmp
    ping4 -c 3 "$B4"
    cap_stop "$CAP"
}

cap_icmp_errors() {
    log "icmp-errors.pcap"
    # ICMP errors quote the datagram they are about.  Port unreachable: UDP to a
    # port nobody listens on in nlcap-b.  Host unreachable: nlcap-b has an
    # "unreachable" route for 10.99.9.0/24.  Time exceeded: a TTL-1 ping routed
    # through nlcap-b (which forwards, inside its own namespace only), whose route
    # for 10.99.8.0/24 points back at nlcap-a, so the packet dies at nlcap-b.
    nsb sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    nsa ip route replace 10.99.9.0/24 via "$B4"
    nsa ip route replace 10.99.8.0/24 via "$B4"
    nsb ip route replace unreachable 10.99.9.0/24
    nsb ip route replace 10.99.8.0/24 via "$A4"
    nsa ip -6 route replace fd00:98::/64 via "$B6"
    nsb ip -6 route replace fd00:98::/64 via "$A6"
    cap_start "$NSA" icmp-errors.pcap -i veth-a icmp or icmp6 or udp
    helper "$NSA" udp-send "$B4" 9 12 || true
    helper "$NSA" udp-send "$B6" 9 12 || true
    ping4 -c 1 -W 1 10.99.9.1 || true
    ping4 -c 1 -W 1 -t 1 10.99.8.1 || true
    ping6 -c 1 -W 1 -t 1 fd00:98::1 || true
    cap_stop "$CAP"
    nsb sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
}

cap_arp() {
    log "arp.pcap"
    flush_neigh -4
    cap_start "$NSA" arp.pcap -i veth-a arp or icmp
    ping4 -c 1 "$B4"
    cap_stop "$CAP"
    static_neigh
}

cap_ping6() {
    log "ping6.pcap"
    flush_neigh -6
    cap_start "$NSA" ping6.pcap -i veth-a icmp6
    helper "$NSA" send-rs veth-a "$MAC_A"
    sleep 0.1
    helper "$NSB" send-ra veth-b "$MAC_B"
    sleep 0.1
    ping6 -c 3 "$B6"
    cap_stop "$CAP"
    static_neigh
}

cap_fragments() {
    log "ip-fragments.pcap"
    cap_start "$NSA" ip-fragments.pcap -i veth-a ip
    helper "$NSA" udp-send "$B4" 7 4000
    ping4 -c 1 -s 3000 "$B4"
    cap_stop "$CAP"

    log "ip6-fragments.pcap"
    cap_start "$NSA" ip6-fragments.pcap -i veth-a ip6
    helper "$NSA" udp-send "$B6" 7 4000
    ping6 -c 1 -s 3000 "$B6"
    cap_stop "$CAP"
}

cap_vlan() {
    log "vlan.pcap"
    # captured on the receiving peer; its kernel has no VLAN devices and
    # silently drops the frames (no replies expected)
    cap_start "$NSB" vlan.pcap -i veth-b
    helper "$NSA" send-vlan veth-a "$MAC_A" "$MAC_B"
    cap_stop "$CAP"
}

cap_raw_ip() {
    log "raw-ip.pcap"
    cap_start "$NSA" raw-ip.pcap -i "$TUN"
    ping4 -c 2 "$TUN_PEER4"
    ping6 -c 2 "$TUN_PEER6"
    cap_stop "$CAP"
}

cap_nanosecond() {
    log "nanosecond.pcap"
    cap_start "$NSA" nanosecond.pcap --time-stamp-precision=nano -i veth-a
    ping4 -c 2 "$B4"
    helper "$NSA" dns-query "$B4" 53 netlab.test A 0x2001
    cap_stop "$CAP"
}

cap_cooked() {
    log "sll.pcap / sll2.pcap"
    local p1 p2
    cap_start "$NSA" sll.pcap -i any -y LINUX_SLL
    p1=$CAP
    cap_start "$NSA" sll2.pcap -i any -y LINUX_SLL2
    p2=$CAP
    ping4 -c 2 "$B4"                  # veth-a (Ethernet)
    ping4 -c 1 127.0.0.1              # lo (loopback)
    ping4 -c 1 "$TUN_PEER4"           # tun0 (no link header)
    ping6 -c 1 "$B6"
    helper "$NSA" dns-query "$B4" 53 netlab.test A 0x3001
    sleep 0.7
    kill -INT "$p1" "$p2"
    wait "$p1" || true
    wait "$p2" || true
}

cap_mixed() {
    log "mixed.pcapng"
    local logf="$WORK/mixed-a.log" pa
    : >"$logf"
    # nlcap-a side: dumpcap, three interfaces in one pcapng
    # (veth-a and lo: Ethernet; tun0: raw IP)
    ip netns exec "$NSA" dumpcap -i veth-a -i "$TUN" -i lo -w "$WORK/mixed-a.pcapng" >"$logf" 2>&1 &
    pa=$!
    PIDS+=("$pa")
    wait_for "$logf" "Capturing on"
    # nlcap-b side: tcpdump, Linux cooked v2, microsecond pcap (becomes an
    # IDB without if_tsresol, i.e. the default 10^-6, next to dumpcap's 10^-9)
    cap_start "$NSB" mixed-b.pcap -i any -y LINUX_SLL2
    sleep 0.5
    ping4 -c 2 "$B4"
    ping4 -c 1 "$TUN_PEER4"
    ping4 -c 1 127.0.0.1
    helper "$NSA" dns-query "$B4" 53 netlab.test A 0x4001
    sleep 1
    kill -INT "$CAP" "$pa"
    wait "$CAP" || true
    wait "$pa" || true
    mergecap -F pcapng -w "$WORK/mixed.pcapng" "$WORK/mixed-a.pcapng" "$WORK/mixed-b.pcap"
}

convert() {
    log "bigendian.pcap / null-loopback.pcap (converted)"
    python3 "$CONVERT" bigendian "$WORK/http.pcap" "$WORK/bigendian.pcap"
    python3 "$CONVERT" null "$WORK/null-loopback.pcap" "$WORK/ping4.pcap" "$WORK/tcp6.pcap"
}

# --------------------------------------------------------------------------
FILES=(http.pcap tcp-rst.pcap dns.pcap ping4.pcap icmp-errors.pcap ping6.pcap arp.pcap tcp6.pcap
    ip-fragments.pcap ip6-fragments.pcap vlan.pcap mixed.pcapng
    truncated-snaplen.pcap sll.pcap sll2.pcap raw-ip.pcap nanosecond.pcap
    bigendian.pcap null-loopback.pcap)

verify() {
    log "verifying"
    local f err n
    for f in "${FILES[@]}"; do
        [[ -s "$WORK/$f" ]] || { echo "$f: missing or empty" >&2; exit 1; }
        err="$(tshark -n -r "$WORK/$f" 2>&1 >/dev/null | grep -v '^Running as user' || true)"
        if [[ -n "$err" ]]; then
            echo "$f: tshark complained: $err" >&2
            exit 1
        fi
        n="$(tshark -n -r "$WORK/$f" 2>/dev/null | wc -l)"
        if ((n == 0)); then
            echo "$f: no packets" >&2
            exit 1
        fi
        if (($(stat -c %s "$WORK/$f") > 100000)); then
            echo "$f: larger than 100 KB" >&2
            exit 1
        fi
    done
}

install_files() {
    mkdir -p "$OUT"
    local owner f
    owner="$(stat -c %u:%g "$REPO")"
    for f in "${FILES[@]}"; do
        install -m 0644 "$WORK/$f" "$OUT/$f"
        chown "$owner" "$OUT/$f"
    done
    printf '%-24s %8s %7s  %s\n' FILE PACKETS BYTES ENCAPSULATION
    for f in "${FILES[@]}"; do
        printf '%-24s %8s %7s  %s\n' "$f" \
            "$(capinfos -M -c -T "$OUT/$f" | awk -F'\t' 'NR==2{print $2}')" \
            "$(stat -c %s "$OUT/$f")" \
            "$(capinfos -T -E "$OUT/$f" | awk -F'\t' 'NR==2{print $2}')"
    done
}

setup
start_servers
cap_http
cap_truncated
cap_tcp_rst
cap_tcp6
cap_dns
cap_ping4
cap_icmp_errors
cap_arp
cap_ping6
cap_fragments
cap_vlan
cap_raw_ip
cap_nanosecond
cap_cooked
cap_mixed
convert
verify
install_files
log "done; captures written to $OUT"
