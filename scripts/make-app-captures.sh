#!/usr/bin/env bash
# Make the application-layer and TCP-analysis captures in captures/
# (documented in captures/README.md, "Application protocols"):
#
#   sudo ./scripts/make-app-captures.sh            # all of them
#   sudo ./scripts/make-app-captures.sh dns tls13  # only some (names below)
#
# Names: dns http tls12 tls13 ftp smtp ssh socketio-ws socketio-polling tcp-loss
#
# Real programs talk to each other inside throw-away network namespaces made
# here: nlapp-a (client, 10.99.0.1, fd00:99::1) and nlapp-b (server,
# 10.99.0.2, fd00:99::2), joined by a veth pair.  tcp-loss uses three more,
# nlloss-a / nlloss-m / nlloss-b, with the same addresses and a user-space
# reordering bridge in nlloss-m.  The host's interfaces, routes, firewall and
# sysctls are never touched: nftables rules and sysctls are set inside the
# namespaces only.  Every namespace and process made here is removed on exit.
# Nothing is sent to any other address.
#
# Needs (Debian 12 package names): iproute2 tcpdump tshark ethtool nftables
#   dnsutils dnsmasq-base curl openssl vsftpd swaks python3-aiosmtpd
#   openssh-server openssh-client nodejs npm, and /usr/bin/python3 (Debian's:
#   aiosmtpd is its package).  The Socket.IO peers use the npm packages
#   pinned by tests/node/package-lock.json (installed with `npm ci` into a
#   temporary directory).  Daemons are started by this script only, each with
#   its own configuration in a temporary directory; none is enabled or
#   started as a system service.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
OUT="${NETLAB_CAPTURES_OUT:-$REPO/captures}"
HELPERS="$HERE/capture-helpers/app_helpers.py"
SIO_PEER="$HERE/capture-helpers/socketio-peer.js"
PY=/usr/bin/python3

NSA=nlapp-a
NSB=nlapp-b
LA=nlloss-a
LM=nlloss-m
LB=nlloss-b
ALL_NS=("$NSA" "$NSB" "$LA" "$LM" "$LB")
MAC_A=02:00:00:99:00:01
MAC_B=02:00:00:99:00:02
A4=10.99.0.1
B4=10.99.0.2
A6=fd00:99::1
B6=fd00:99::2
SIO_PORT=8765     # Socket.IO: not a well-known port (tshark needs -d tcp.port==8765,http)

ALL=(dns http tls12 tls13 ftp smtp ssh socketio-ws socketio-polling tcp-loss)

if [[ $EUID -ne 0 ]]; then
    echo "must run as root: sudo $0" >&2
    exit 1
fi
missing=()
for tool in ip ss tcpdump tshark capinfos ethtool nft dig dnsmasq curl openssl vsftpd \
    swaks /usr/sbin/sshd ssh ssh-keygen node npm "$PY"; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
"$PY" -c 'import aiosmtpd' 2>/dev/null || missing+=(python3-aiosmtpd)
if ((${#missing[@]})); then
    echo "missing: ${missing[*]}" >&2
    echo "(apt-get install iproute2 tcpdump tshark ethtool nftables dnsutils dnsmasq-base curl" >&2
    echo " openssl vsftpd swaks python3-aiosmtpd openssh-server openssh-client nodejs npm)" >&2
    exit 1
fi

WANT=("$@")
((${#WANT[@]})) || WANT=("${ALL[@]}")
for w in "${WANT[@]}"; do
    [[ " ${ALL[*]} " == *" $w "* ]] || { echo "unknown capture '$w' (one of: ${ALL[*]})" >&2; exit 2; }
done

WORK="$(mktemp -d /tmp/nlapp.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
MADE_RUN_SSHD=0
FILES=()

log() { printf '== %s\n' "$*"; }

remove_namespaces() {
    local ns pid
    for ns in "${ALL_NS[@]}"; do
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
    remove_namespaces
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ((MADE_RUN_SSHD)) && rmdir /run/sshd 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
nsa() { in_ns "$NSA" "$@"; }
nsb() { in_ns "$NSB" "$@"; }

# spawn NS CMD...: start CMD in the background inside NS, output to
# $WORK/<name>.log where name is $SPAWN_LOG (default: background); pid in $BG.
spawn() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@" >>"$WORK/${SPAWN_LOG:-background}.log" 2>&1 &
    BG=$!
    PIDS+=("$BG")
}

stop() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

wait_for() { # FILE PATTERN
    local _
    for _ in $(seq 400); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "timeout waiting for '$2' in $1:" >&2
    cat "$1" >&2
    return 1
}

wait_listen() { # NS tcp|udp PORT
    local _ flag=-Hltn
    [[ $2 == udp ]] && flag=-Hlun
    for _ in $(seq 400); do
        [[ -n "$(ip netns exec "$1" ss $flag "sport = :$3")" ]] && return 0
        sleep 0.05
    done
    echo "timeout waiting for $2 port $3 in $1" >&2
    cat "$WORK"/*.log >&2 || true
    return 1
}

# cap_start NS FILE TCPDUMP-ARGS...: tcpdump inside NS writing $WORK/FILE; pid in $CAP
cap_start() {
    local ns=$1 file=$2
    shift 2
    local logf="$WORK/$file.tcpdump.log"
    : >"$logf"
    ip netns exec "$ns" tcpdump -Z root -n -U --immediate-mode -w "$WORK/$file" "$@" >"$logf" 2>&1 &
    CAP=$!
    PIDS+=("$CAP")
    wait_for "$logf" 'listening on'
    sleep 0.2
}

cap_stop() {
    sleep 0.7
    kill -INT "$1"
    wait "$1" || true
}

# no checksum/segmentation offload: real checksums, no frames above the MTU
no_offload() { # NS IFACE
    in_ns "$1" ethtool -K "$2" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
}

ns_base() { # NS: loopback up, no DAD / RS / RA
    local ns=$1 k
    ip netns add "$ns"
    for k in all default; do
        in_ns "$ns" sysctl -qw "net.ipv6.conf.$k.accept_dad=0" \
            "net.ipv6.conf.$k.router_solicitations=0" "net.ipv6.conf.$k.accept_ra=0"
    done
    in_ns "$ns" ip link set lo up
    in_ns "$ns" ethtool -K lo tx off >/dev/null 2>&1 || true
}

# --------------------------------------------------------------------------
setup() {
    log "creating namespaces $NSA / $NSB"
    remove_namespaces
    ns_base "$NSA"
    ns_base "$NSB"
    ip link add veth-a netns "$NSA" address "$MAC_A" type veth \
        peer name veth-b netns "$NSB" address "$MAC_B"
    no_offload "$NSA" veth-a
    no_offload "$NSB" veth-b
    nsa ip addr add "$A4/24" dev veth-a
    nsb ip addr add "$B4/24" dev veth-b
    nsa ip addr add "$A6/64" dev veth-a nodad
    nsb ip addr add "$B6/64" dev veth-b nodad
    nsa ip link set veth-a up
    nsb ip link set veth-b up
    # permanent neighbour entries: no ARP/ND in the captures
    nsa ip neigh replace "$B4" lladdr "$MAC_B" dev veth-a nud permanent
    nsb ip neigh replace "$A4" lladdr "$MAC_A" dev veth-b nud permanent
    nsa ip -6 neigh replace "$B6" lladdr "$MAC_B" dev veth-a nud permanent
    nsb ip -6 neigh replace "$A6" lladdr "$MAC_A" dev veth-b nud permanent
    sleep 1.5   # let link-up chatter (MLD reports) pass before capturing
}

# ==========================================================================
# 1. DNS: dig against dnsmasq (authoritative for netlab.test, no upstream)
# ==========================================================================
cap_dns() {
    log "dns-records.pcap"
    local d="$WORK/dns"
    mkdir -p "$d"
    SPAWN_LOG=dnsmasq spawn "$NSB" dnsmasq --keep-in-foreground --log-facility=- --log-queries \
        --conf-file=/dev/null --no-resolv --no-hosts --no-poll --pid-file= --user=root \
        --bind-interfaces --listen-address="$B4" --listen-address="$B6" --port=53 \
        --auth-server=ns1.netlab.test,"$B4","$B6" --auth-sec-servers=ns2.netlab.test \
        --auth-zone=netlab.test,10.99.0.0/24,fd00:99::/64 \
        --auth-soa=2024060101,hostmaster.netlab.test,3600,600,86400,300 \
        --auth-ttl=300 --local-ttl=300 \
        --host-record=netlab.test,"$B4","$B6" \
        --host-record=ns1.netlab.test,"$B4" \
        --host-record=ns2.netlab.test,10.99.0.3 \
        --host-record=mail.netlab.test,10.99.0.25 \
        --host-record=sip.netlab.test,10.99.0.50 \
        --cname=www.netlab.test,netlab.test \
        --mx-host=netlab.test,mail.netlab.test,10 \
        --mx-host=netlab.test,backup-mail.netlab.test,20 \
        "--txt-record=netlab.test,v=spf1 ip4:10.99.0.25 -all,netlab: a course that lets you watch the layers,third string" \
        --srv-host=_sip._udp.netlab.test,sip.netlab.test,5060,10,60 \
        --srv-host=_sip._udp.netlab.test,sip.netlab.test,5070,20,40
    wait_listen "$NSB" udp 53
    wait_listen "$NSB" tcp 53
    cap_start "$NSA" dns-records.pcap -i veth-a port 53
    # fixed query IDs (+qid), no EDNS unless asked (dig adds OPT + a random
    # cookie by default), one try, no retries
    local q=(dig @"$B4" +noedns +nocookie +tries=1 +time=2)
    nsa "${q[@]}" +qid=$((0x2001)) netlab.test A >"$d/out" 2>&1
    nsa "${q[@]}" +qid=$((0x2002)) netlab.test AAAA >>"$d/out" 2>&1
    nsa "${q[@]}" +qid=$((0x2003)) www.netlab.test A >>"$d/out" 2>&1
    nsa "${q[@]}" +qid=$((0x2004)) netlab.test NS >>"$d/out" 2>&1
    nsa "${q[@]}" +qid=$((0x2005)) -x "$B4" >>"$d/out" 2>&1
    nsa "${q[@]}" +qid=$((0x2006)) netlab.test MX >>"$d/out" 2>&1
    nsa "${q[@]}" +qid=$((0x2007)) netlab.test TXT >>"$d/out" 2>&1
    nsa "${q[@]}" +qid=$((0x2008)) netlab.test SOA >>"$d/out" 2>&1
    nsa "${q[@]}" +qid=$((0x2009)) _sip._udp.netlab.test SRV >>"$d/out" 2>&1
    nsa dig @"$B4" +edns=0 +bufsize=1232 +dnssec +nsid +cookie=0011223344556677 +tries=1 +time=2 \
        +qid=$((0x200a)) netlab.test A >>"$d/out" 2>&1
    nsa "${q[@]}" +qid=$((0x200b)) nosuch.netlab.test A >>"$d/out" 2>&1
    nsa "${q[@]}" +qid=$((0x200c)) -6 @"$B6" netlab.test AAAA >>"$d/out" 2>&1
    # DNS over TCP: each message preceded by its 2-byte length
    nsa "${q[@]}" +tcp +qid=$((0x2101)) www.netlab.test A >>"$d/out" 2>&1
    nsa "${q[@]}" +tcp +qid=$((0x2102)) netlab.test TXT >>"$d/out" 2>&1
    nsa "${q[@]}" +tcp +qid=$((0x2103)) nosuch.netlab.test A >>"$d/out" 2>&1
    cap_stop "$CAP"
    stop "$BG"
    cp "$d/out" "$WORK/dns-records.dig.txt"
    FILES+=(dns-records.pcap)
}

# ==========================================================================
# 2. HTTP/1.1 keep-alive: curl against python http.server (own handler)
# ==========================================================================
cap_http() {
    log "http-keepalive.pcap"
    SPAWN_LOG=http spawn "$NSB" "$PY" "$HELPERS" http-server "$B4" 80
    wait_listen "$NSB" tcp 80
    printf 'name=netlab&lesson=http&text=hello+from+curl\n' >"$WORK/post.txt"
    cap_start "$NSA" http-keepalive.pcap -i veth-a tcp port 80
    # one curl, five transfers; --next keeps the connection (curl's connection cache)
    nsa curl -sS --noproxy '*' --http1.1 --max-time 10 --resolve www.netlab.test:80:"$B4" \
        -o /dev/null http://www.netlab.test/ \
        -o /dev/null http://www.netlab.test/chunked \
        -o /dev/null http://www.netlab.test/large.txt \
        --next -o /dev/null -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-binary @"$WORK/post.txt" http://www.netlab.test/form \
        --next -o /dev/null http://www.netlab.test/missing
    cap_stop "$CAP"
    stop "$BG"
    FILES+=(http-keepalive.pcap)
}

# ==========================================================================
# 3. TLS 1.2 / 1.3: openssl s_server -rev and s_client, SNI, ALPN
# ==========================================================================
make_cert() {
    [[ -s $WORK/tls/cert.pem ]] && return 0
    mkdir -p "$WORK/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
        -subj "/CN=tls.netlab.test/O=netlab capture" \
        -addext "subjectAltName=DNS:tls.netlab.test" \
        -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>/dev/null
}

cap_tls() { # VERSION (1.2 | 1.3)
    local v=$1 name flag alpn
    name="tls${v/./}.pcap"
    flag="-tls${v/./_}"
    # the server picks the first of its own list that the client offers:
    # http/1.1 in the TLS 1.2 capture, h2 in the TLS 1.3 one
    alpn=h2,http/1.1
    [[ $v == 1.2 ]] && alpn=http/1.1,h2
    log "$name"
    make_cert
    # -rev: the server sends each line back reversed (application data both ways)
    SPAWN_LOG=s_server-$v spawn "$NSB" openssl s_server -accept "$B4:443" -naccept 1 \
        -cert "$WORK/tls/cert.pem" -key "$WORK/tls/key.pem" -alpn "$alpn" -rev
    wait_listen "$NSB" tcp 443
    cap_start "$NSA" "$name" -i veth-a tcp port 443
    # the keylog lets Wireshark/tshark decrypt (-o tls.keylog_file:FILE)
    { printf 'hello over TLS %s\n' "$v"; sleep 0.5; printf 'second line\n'; sleep 0.5; } |
        nsa openssl s_client -connect "$B4:443" -servername tls.netlab.test \
            -alpn h2,http/1.1 "$flag" -keylogfile "$WORK/${name%.pcap}.keylog" \
            -CAfile "$WORK/tls/cert.pem" -verify_return_error >"$WORK/s_client-$v.log" 2>&1 || true
    cap_stop "$CAP"
    stop "$BG"
    FILES+=("$name")
    EXTRA+=("${name%.pcap}.keylog")
}

# ==========================================================================
# 4. FTP: vsftpd (anonymous, passive only) and python ftplib
# ==========================================================================
cap_ftp() {
    log "ftp.pcap"
    local d="$WORK/ftp"
    mkdir -p "$d/root" "$d/empty"
    chmod 755 "$d" "$d/root"
    chmod 555 "$d/empty"
    printf 'Hello from the netlab FTP server.\nThis file came over a passive data connection.\n' >"$d/root/hello.txt"
    printf 'FTP uses two connections:\n  control (port 21): commands and replies\n  data: one per listing or file\n' >"$d/root/notes.txt"
    mkdir -p "$d/root/pub"
    touch -d '2024-06-01 12:00:00' "$d/root/hello.txt" "$d/root/notes.txt" "$d/root/pub"
    chmod 644 "$d/root/hello.txt" "$d/root/notes.txt"
    chmod 555 "$d/root"
    cat >"$d/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=$B4
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=NO
anon_root=$d/root
no_anon_password=NO
secure_chroot_dir=$d/empty
hide_ids=YES
pasv_enable=YES
port_enable=NO
pasv_min_port=30000
pasv_max_port=30009
ftpd_banner=Welcome to the netlab FTP server (vsftpd).
xferlog_enable=NO
seccomp_sandbox=NO
use_localtime=NO
EOF
    SPAWN_LOG=vsftpd spawn "$NSB" vsftpd "$d/vsftpd.conf"
    wait_listen "$NSB" tcp 21
    cap_start "$NSA" ftp.pcap -i veth-a tcp
    nsa "$PY" "$HELPERS" ftp-client "$B4" anonymous learner@netlab.test >"$WORK/ftp-client.log" 2>&1
    cap_stop "$CAP"
    stop "$BG"
    FILES+=(ftp.pcap)
}

# ==========================================================================
# 5. SMTP: swaks against aiosmtpd, no STARTTLS
# ==========================================================================
cap_smtp() {
    log "smtp.pcap"
    SPAWN_LOG=smtp spawn "$NSB" "$PY" "$HELPERS" smtp-server "$B4" 25 mail.netlab.test
    wait_listen "$NSB" tcp 25
    cap_start "$NSA" smtp.pcap -i veth-a tcp port 25
    nsa swaks --server "$B4" --port 25 --helo client.netlab.test \
        --from alice@netlab.test --to bob@netlab.test,carol@netlab.test \
        --header 'Subject: Hello from the SMTP lesson' \
        --header 'Date: Sat, 01 Jun 2024 12:00:00 +0000' \
        --header 'Message-Id: <lesson-smtp-1@client.netlab.test>' \
        --body $'Hi Bob and Carol,\r\n\r\nThis message crossed the wire as plain text:\r\nevery header and line is readable in the capture.\r\n\r\n-- \r\nAlice' \
        >"$WORK/swaks.log" 2>&1
    cap_stop "$CAP"
    stop "$BG"
    FILES+=(smtp.pcap)
}

# ==========================================================================
# 6. SSH: OpenSSH sshd (own config and host key) and ssh with key auth
# ==========================================================================
cap_ssh() {
    log "ssh.pcap"
    local d="$WORK/ssh"
    mkdir -p "$d"
    chmod 700 "$d"
    ssh-keygen -q -t ed25519 -N '' -C 'host key nlapp-b' -f "$d/host_ed25519"
    ssh-keygen -q -t ed25519 -N '' -C 'learner@nlapp-a' -f "$d/client_ed25519"
    cp "$d/client_ed25519.pub" "$d/authorized_keys"
    cat >"$d/sshd_config" <<EOF
ListenAddress $B4:22
HostKey $d/host_ed25519
PidFile none
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $d/authorized_keys
StrictModes no
PrintMotd no
PrintLastLog no
Banner none
UseDNS no
X11Forwarding no
AllowTcpForwarding no
Subsystem sftp internal-sftp
EOF
    if [[ ! -d /run/sshd ]]; then
        mkdir -m 755 /run/sshd   # sshd's privilege separation directory (removed on exit)
        MADE_RUN_SSHD=1
    fi
    SPAWN_LOG=sshd spawn "$NSB" /usr/sbin/sshd -D -e -f "$d/sshd_config"
    wait_listen "$NSB" tcp 22
    cap_start "$NSA" ssh.pcap -i veth-a tcp port 22
    nsa ssh -F /dev/null -i "$d/client_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o UserKnownHostsFile="$d/known_hosts" -o StrictHostKeyChecking=accept-new \
        -o UpdateHostKeys=no -o LogLevel=ERROR "root@$B4" echo hi >"$WORK/ssh-client.log" 2>&1
    cap_stop "$CAP"
    stop "$BG"
    grep -qx hi "$WORK/ssh-client.log" || { echo "ssh session failed:" >&2; cat "$WORK/ssh-client.log" "$WORK/sshd.log" >&2; exit 1; }
    FILES+=(ssh.pcap)
}

# ==========================================================================
# 7. Socket.IO: official socket.io server and socket.io-client (node)
# ==========================================================================
sio_install() {
    [[ -d $WORK/sio/node_modules ]] && return 0
    mkdir -p "$WORK/sio"
    cp "$REPO/tests/node/package.json" "$REPO/tests/node/package-lock.json" "$WORK/sio/"
    (cd "$WORK/sio" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

cap_socketio() { # ws | polling
    local mode=$1 name="socketio-$1" delay=0
    # polling: the server holds the WebSocket upgrade request 400 ms, so that the
    # first messages travel over long-polling
    [[ $mode == polling ]] && delay=400
    log "$name.pcap"
    sio_install
    local logf="$WORK/$name-server.log"
    : >"$logf"
    NODE_PATH="$WORK/sio/node_modules" ip netns exec "$NSB" node "$SIO_PEER" server "$B4" "$SIO_PORT" \
        "$WORK/$name.server.json" "$delay" >"$logf" 2>&1 &
    BG=$!
    PIDS+=("$BG")
    wait_for "$logf" listening
    cap_start "$NSA" "$name.pcap" -i veth-a tcp port "$SIO_PORT"
    NODE_PATH="$WORK/sio/node_modules" nsa node "$SIO_PEER" clients "$B4" "$SIO_PORT" "$mode" \
        "$WORK/$name.clients.json" >"$WORK/$name-clients.log" 2>&1 ||
        { cat "$WORK/$name-clients.log" "$logf" >&2; exit 1; }
    cap_stop "$CAP"
    kill -INT "$BG"    # the server writes its log on SIGINT
    wait "$BG" || true
    NODE_PATH="$WORK/sio/node_modules" node "$SIO_PEER" merge "$name.pcap" "$SIO_PORT" "$mode" \
        "$WORK/$name.server.json" "$WORK/$name.clients.json" >"$WORK/$name.log.json"
    # every Engine.IO packet on a WebSocket is one data frame: per TCP connection
    # and direction, the frames' text (as tshark reads it, decoded as HTTP) must
    # be the Engine.IO packets the server logged, in the same order
    tshark -n -r "$WORK/$name.pcap" -d "tcp.port==$SIO_PORT,http" \
        -Y 'websocket.opcode==1 || websocket.opcode==2' -T fields -E separator='|' \
        -e tcp.srcport -e tcp.dstport -e websocket.opcode -e text 2>/dev/null >"$WORK/$name.frames"
    "$PY" - "$WORK/$name.log.json" "$WORK/$name.frames" "$SIO_PORT" <<'EOF'
import json, sys
log, frames, port = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
wire, logged = {}, {}
for line in open(frames):
    sp, dp, op, text = line.rstrip("\n").split("|", 3)
    key = (dp, "send") if sp == port else (sp, "recv")
    wire.setdefault(key, []).append(text.split("Timestamps,", 1)[-1] if op == "1" else "<binary>")
for p in log["packets"]:
    if p["peer"] == "server" and p["transport"] == "websocket":
        e = p["engineio"]
        s = "<binary>" if "binary_base64" in e else str(e["type"]) + e.get("data", "")
        logged.setdefault((str(p["tcp_client_port"]), p["dir"]), []).append(s)
if wire != logged:
    sys.exit("WebSocket frames and the server's log differ")
print("   %d WebSocket data frames = the server's log, connection by connection"
      % sum(map(len, wire.values())))
EOF
    FILES+=("$name.pcap")
    EXTRA+=("$name.log.json")
}

# ==========================================================================
# 8. TCP loss: bulk transfer through nftables random drops and a reordering
#    bridge; a slow reader (zero window); an idle keep-alive connection
# ==========================================================================
LOSS_PCT=3          # nftables: numgen random mod 100 < 3 drop (sender's egress)
REORDER_PCT=2       # relay: hold 2% of data frames ...
REORDER_MS=3        # ... for 3 ms, so later frames overtake them
cap_tcp_loss() {
    log "tcp-loss.pcap"
    local ns
    for ns in "$LA" "$LM" "$LB"; do ns_base "$ns"; done
    # a --veth-am-- m --veth-mb-- b ; m bridges in user space (app_helpers.py relay)
    ip link add veth-a netns "$LA" address "$MAC_A" type veth peer name veth-ma netns "$LM"
    ip link add veth-b netns "$LB" address "$MAC_B" type veth peer name veth-mb netns "$LM"
    no_offload "$LA" veth-a
    no_offload "$LB" veth-b
    no_offload "$LM" veth-ma
    no_offload "$LM" veth-mb
    in_ns "$LM" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
        net.ipv4.ip_forward=0
    in_ns "$LM" ip link set veth-ma up
    in_ns "$LM" ip link set veth-mb up
    in_ns "$LA" ip addr add "$A4/24" dev veth-a
    in_ns "$LB" ip addr add "$B4/24" dev veth-b
    in_ns "$LA" sysctl -qw net.ipv6.conf.veth-a.disable_ipv6=1
    in_ns "$LB" sysctl -qw net.ipv6.conf.veth-b.disable_ipv6=1
    in_ns "$LA" ip link set veth-a up
    in_ns "$LB" ip link set veth-b up
    in_ns "$LA" ip neigh replace "$B4" lladdr "$MAC_B" dev veth-a nud permanent
    in_ns "$LB" ip neigh replace "$A4" lladdr "$MAC_A" dev veth-b nud permanent
    SPAWN_LOG=relay spawn "$LM" "$PY" "$HELPERS" relay veth-ma veth-mb 99 "$REORDER_PCT" "$REORDER_MS"
    wait_for "$WORK/relay.log" running
    # random loss on the sender's egress, inside nlloss-a only, for the bulk port only
    in_ns "$LA" nft -f - <<EOF
table inet netlab_loss {
    chain out {
        type filter hook output priority 0; policy accept;
        tcp dport 5001 numgen random mod 100 < $LOSS_PCT drop
    }
}
EOF
    sleep 1
    SPAWN_LOG=bulk spawn "$LB" "$PY" "$HELPERS" bulk-recv "$B4" 5001 fast
    local fast=$BG
    SPAWN_LOG=bulk spawn "$LB" "$PY" "$HELPERS" bulk-recv "$B4" 5002 slow
    local slow=$BG
    SPAWN_LOG=bulk spawn "$LB" "$PY" "$HELPERS" bulk-recv "$B4" 5003 fast
    local idle=$BG
    wait_listen "$LB" tcp 5001
    wait_listen "$LB" tcp 5002
    wait_listen "$LB" tcp 5003
    # captured on the receiver: dropped segments are never seen ("previous
    # segment not captured"), held ones arrive out of order.  Headers only.
    cap_start "$LB" tcp-loss.pcap -i veth-b -s 128 tcp
    in_ns "$LA" "$PY" "$HELPERS" bulk-send "$B4" 5001 3000000 >>"$WORK/bulk.log" 2>&1
    in_ns "$LA" "$PY" "$HELPERS" bulk-send "$B4" 5002 200000 >>"$WORK/bulk.log" 2>&1
    in_ns "$LA" "$PY" "$HELPERS" keepalive "$B4" 5003 3.5 >>"$WORK/bulk.log" 2>&1
    cap_stop "$CAP"
    wait "$fast" "$slow" "$idle" || true
    in_ns "$LA" nft list ruleset >"$WORK/tcp-loss.nft.txt"
    FILES+=(tcp-loss.pcap)
}

# --------------------------------------------------------------------------
EXTRA=()

verify() {
    log "verifying"
    local f err n max
    for f in "${FILES[@]}"; do
        [[ -s "$WORK/$f" ]] || { echo "$f: missing or empty" >&2; exit 1; }
        err="$(tshark -n -r "$WORK/$f" 2>&1 >/dev/null | grep -v '^Running as user' || true)"
        [[ -z "$err" ]] || { echo "$f: tshark complained: $err" >&2; exit 1; }
        n="$(tshark -n -r "$WORK/$f" 2>/dev/null | wc -l)"
        ((n > 0)) || { echo "$f: no packets" >&2; exit 1; }
        max=204800
        [[ $f == tcp-loss.pcap ]] && max=2097152
        (($(stat -c %s "$WORK/$f") <= max)) || { echo "$f: larger than $max bytes" >&2; exit 1; }
    done
}

install_files() {
    mkdir -p "$OUT"
    local owner f
    owner="$(stat -c %u:%g "$REPO")"
    for f in "${FILES[@]}" "${EXTRA[@]}"; do
        install -m 0644 "$WORK/$f" "$OUT/$f"
        chown "$owner" "$OUT/$f"
    done
    printf '%-26s %8s %8s\n' FILE PACKETS BYTES
    for f in "${FILES[@]}"; do
        printf '%-26s %8s %8s\n' "$f" \
            "$(capinfos -M -c -T "$OUT/$f" | awk -F'\t' 'NR==2{print $2}')" "$(stat -c %s "$OUT/$f")"
    done
}

setup
for w in "${WANT[@]}"; do
    case $w in
        dns) cap_dns ;;
        http) cap_http ;;
        tls12) cap_tls 1.2 ;;
        tls13) cap_tls 1.3 ;;
        ftp) cap_ftp ;;
        smtp) cap_smtp ;;
        ssh) cap_ssh ;;
        socketio-ws) cap_socketio ws ;;
        socketio-polling) cap_socketio polling ;;
        tcp-loss) cap_tcp_loss ;;
    esac
done
verify
[[ -n ${KEEP_WORK:-} ]] && cp -r "$WORK" "$KEEP_WORK"
install_files
log "done; captures written to $OUT"
