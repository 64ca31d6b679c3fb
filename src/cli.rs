//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "netlab",
    version,
    about = "Watch the layers of computer networks: a packet dissector for learners",
    long_about = "netlab teaches how networks work by showing every layer of real traffic: \
                  link, IP, TCP/UDP and above, each header field explained.",
    after_help = "Examples:\n  netlab dissect captures/http.pcap\n  netlab dissect -v captures/tcp-rst.pcap\n  netlab completions bash > /etc/bash_completion.d/netlab"
)]
pub struct Cli {
    /// When to use colours: auto (only on a terminal, and not if NO_COLOR is set),
    /// always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain every packet of a pcap or pcapng capture, layer by layer.
    #[command(after_help = DISSECT_EXAMPLES)]
    Dissect(DissectArgs),
    /// Watch netlab's own hand-written TCP talk to the real Linux TCP stack: handshake,
    /// data, teardown, with loss, reordering and delay you inject.
    #[command(name = "tcp-handshake", after_help = HANDSHAKE_EXAMPLES)]
    TcpHandshake(HandshakeArgs),
    /// WebSocket (RFC 6455), written from scratch: a server and a client.
    #[command(subcommand)]
    Ws(WsCommand),
    /// Watch a WebSocket connection on loopback, byte by byte: the HTTP Upgrade, the
    /// Sec-WebSocket-Accept derivation, frames decoded bit by bit, ping/pong, fragments
    /// and the closing handshake.
    #[command(name = "ws-upgrade", after_help = WS_UPGRADE_EXAMPLES)]
    WsUpgrade(WsUpgradeArgs),
    /// The same numbered messages over TCP and over UDP, through a lossy wire netlab
    /// runs between two private network namespaces: delivered, lost, out of order,
    /// retransmitted, side by side.
    #[command(after_help = RACE_EXAMPLES)]
    Race(RaceArgs),
    /// The kernel's TCP through a bottleneck netlab runs between two private namespaces:
    /// its congestion window (slow start, the sawtooth) and RTT (the queue filling) from
    /// TCP_INFO, charted.
    #[command(after_help = CONGESTION_EXAMPLES)]
    Congestion(CongestionArgs),
    /// Latency TCP adds on purpose: two small writes then a read, with Nagle's algorithm
    /// and with TCP_NODELAY, through netlab's wire; the delayed ACK shown segment by
    /// segment.
    #[command(after_help = NAGLE_EXAMPLES)]
    Nagle(NagleArgs),
    /// Capture live packets on an interface (lo by default), or those a command
    /// exchanges in a private namespace (`-- CMD`), and explain each one, as `netlab
    /// dissect` does for a file.
    #[command(after_help = CAPTURE_EXAMPLES)]
    Capture(CaptureArgs),
    /// TCP between real kernel sockets, every system call printed: an echo server and a
    /// client, the ephemeral port, the 4-tuple and TCP_INFO after each exchange.
    #[command(subcommand)]
    Tcp(TcpCommand),
    /// UDP datagrams between real kernel sockets: a server that prints and echoes each
    /// datagram, and a sender (one datagram per TEXT; boundaries are kept).
    #[command(subcommand)]
    Udp(UdpCommand),
    /// This machine's TCP and UDP sockets and the processes holding them (like
    /// `ss -tulpn`), with the port ranges explained.
    #[command(after_help = PORTS_EXAMPLES)]
    Ports(PortsArgs),
    /// Socket.IO written from scratch: Engine.IO v4 and Socket.IO v5 on netlab's own
    /// WebSocket, a server and a client that interoperate with the official packages.
    #[command(subcommand)]
    Socketio(SocketioCommand),
    /// Follow the course: read a lesson, run its steps (the look-for text highlighted),
    /// answer its questions from your own output; progress is kept between runs.
    #[command(after_help = LESSON_EXAMPLES)]
    Lesson(LessonArgs),
    /// Print netlab's manual page (roff): `netlab man | man -l -`.
    #[command(
        after_help = "Examples:\n  netlab man | man -l -\n  netlab man lesson | man -l -          the page of one subcommand\n  netlab man > /usr/local/share/man/man1/netlab.1"
    )]
    Man {
        /// A subcommand's page instead of the main one (`lesson`, `dissect`, …).
        #[arg(value_name = "SUBCOMMAND")]
        subcommand: Option<String>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

const LESSON_EXAMPLES: &str = "\
Examples:
  netlab lesson                          what to do next
  netlab lesson list                     every lesson, ✓ when done, the course's progress bar
  netlab lesson show 1                   read lesson 1 (in a pager on a terminal)
  netlab lesson run 1                    its steps one by one: Enter runs, s skips, h hints, q quits
  netlab lesson run onion --step 3       from step 3 on
  sudo netlab lesson run 2 --yes         every step without asking (progress stays yours)
  netlab lesson check 1                  answer its questions; a wrong answer gets a hint
  printf '64\\nb\\n' | netlab lesson check 1 --answers -
  netlab lesson hint 1 2                 the next hint for question 2
  netlab lesson reset 1                  start lesson 1 again (asks first)
  netlab lesson where                    where the lessons, your progress and your runs are

Progress is kept in $XDG_STATE_HOME/netlab (default ~/.local/state/netlab; NETLAB_STATE_DIR
overrides it); under sudo, in the invoking user's folder, owned by them. Steps run in its
work/ folder, where captures/ holds the captures the lessons read.";

#[derive(Debug, Args)]
pub struct LessonArgs {
    /// Without a subcommand: what to do next.
    #[command(subcommand)]
    pub command: Option<LessonCommand>,
}

#[derive(Debug, Subcommand)]
pub enum LessonCommand {
    /// Every lesson: ✓ when done, steps and questions done, the course's progress bar.
    List {
        /// Print NDJSON: one object per lesson.
        #[arg(long)]
        json: bool,
    },
    /// Read a lesson, rendered for the terminal (in a pager when on one: $PAGER or less -R).
    Show {
        /// The lesson: its number or id (see `netlab lesson list`).
        #[arg(value_name = "LESSON", value_parser = LessonRefParser, hide_possible_values = true)]
        lesson: String,
    },
    /// Run a lesson's steps: the prose, then the command; Enter runs it, s skips, h shows a
    /// hint, q quits. The look-for text is highlighted and your run is kept for the
    /// questions about it.
    Run {
        /// The lesson: its number or id.
        #[arg(value_name = "LESSON", value_parser = LessonRefParser, hide_possible_values = true)]
        lesson: String,
        /// Start at step K.
        #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
        step: Option<u32>,
        /// Run every step without asking; exit 1 if one fails or its look-for text is
        /// missing. Steps that need root run when netlab is root, else their way without
        /// root if they have one, else they are skipped.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Answer a lesson's questions; answers are read from your own runs where they can be.
    /// Exit 0 when every answer is right, 1 otherwise.
    Check {
        /// The lesson: its number or id.
        #[arg(value_name = "LESSON", value_parser = LessonRefParser, hide_possible_values = true)]
        lesson: String,
        /// Read the answers from FILE (`-`: standard input), one a line in question order,
        /// instead of asking.
        #[arg(long, value_name = "FILE|-")]
        answers: Option<PathBuf>,
    },
    /// The next hint for question Q of a lesson.
    Hint {
        /// The lesson: its number or id.
        #[arg(value_name = "LESSON", value_parser = LessonRefParser, hide_possible_values = true)]
        lesson: String,
        /// The question's number.
        #[arg(value_name = "Q", value_parser = clap::value_parser!(u32).range(1..))]
        question: u32,
    },
    /// Forget the progress (and the saved runs) of a lesson, or of all of them; asks first.
    Reset {
        /// The lesson: its number or id.
        #[arg(value_name = "LESSON", value_parser = LessonRefParser, hide_possible_values = true,
              required_unless_present = "all", conflicts_with = "all")]
        lesson: Option<String>,
        /// Every lesson.
        #[arg(long)]
        all: bool,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Where the lessons, your progress, your saved runs and the workspace are.
    Where,
}

/// A lesson's number or id. Any text is accepted here (the command says when there is no
/// such lesson); the built-in lessons are offered to shell completion.
#[derive(Debug, Clone, Copy)]
pub struct LessonRefParser;

impl clap::builder::TypedValueParser for LessonRefParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let refs = crate::course::built_in_refs();
        Some(Box::new(refs.into_iter().flat_map(|(number, id)| {
            [
                clap::builder::PossibleValue::new(number),
                clap::builder::PossibleValue::new(id),
            ]
        })))
    }
}

const DISSECT_EXAMPLES: &str = "\
Examples:
  netlab dissect captures/http.pcap                    one line per packet
  netlab dissect -v -c 3 captures/http.pcap            the layer tree of the first 3 packets
  netlab dissect -x captures/ping4.pcap                coloured hex dump with a legend
  netlab dissect --json captures/dns.pcap | head -1    NDJSON, Wireshark field names
  netlab dissect --filter 'tcp.flags.syn == 1 && !tcp.flags.ack' captures/http.pcap
  netlab dissect --stats captures/http.pcap            protocols and conversations
  netlab dissect -d tcp.port==8765,http chat.pcap      HTTP on a port Wireshark does not know
  netlab dissect --follow 0 captures/http.pcap         the conversation of TCP stream 0, as text
  netlab dissect --follow 0 --follow-format raw captures/http.pcap > body   the server's bytes
  netlab dissect --onion 8 captures/http.pcap          packet 8 drawn as the onion of its layers
  tcpdump -i lo -w - | netlab dissect -                read a capture from standard input

Exit status: 0 when every packet was read; 1 on an error, or when the capture is cut
short (every complete packet is shown first, then a warning says where it stopped).";

const HANDSHAKE_EXAMPLES: &str = "\
Examples:
  netlab tcp-handshake                               SYN, SYN-ACK, ACK with the kernel, then FIN/ACK
  netlab tcp-handshake --send hello                  data, its echo, the ACKs
  netlab tcp-handshake --role server                 the kernel connects to netlab (passive open)
  netlab tcp-handshake --drop syn-ack                the kernel retransmits its SYN-ACK after its RTO
  netlab tcp-handshake --send a --send b --reorder   duplicate ACKs, in-order delivery
  netlab tcp-handshake --closed-port                 a SYN to a closed port: RST/ACK
  netlab tcp-handshake --ipv6 -w hs.pcap             the same over IPv6, saved for Wireshark
  netlab tcp-handshake --simulate --drop data        no kernel: netlab talks to itself
  netlab tcp-handshake --bulk 200kB --drop 20        slow start, a loss, fast recovery
  sudo netlab tcp-handshake --target 127.0.0.1:8000 --suppress-kernel-rst   raw sockets, real stack

The default mode moves netlab into a private, anonymous network namespace with a TUN
device: the kernel owns 10.0.0.1 there, netlab's endpoint 10.0.0.2, and netlab is the
wire between them. The namespace disappears when netlab exits, however it exits. No root
needed: netlab makes the namespace inside a user namespace of its own (as `unshare -Ur`
does), where it may configure that namespace and nothing else. Only --target, which
uses the host's raw sockets, needs root.";

const WS_UPGRADE_EXAMPLES: &str = "\
Examples:
  netlab ws-upgrade                                    a random key, the whole conversation
  netlab ws-upgrade --key dGhlIHNhbXBsZSBub25jZQ==     the key of RFC 6455 § 1.3
  netlab ws-upgrade -w ws.pcap                         also save it for Wireshark
  tshark -r ws.pcap -d tcp.port==PORT,http -Y websocket   PORT: the server port it prints

netlab's server and client run in one process on 127.0.0.1 (no privileges needed).
The pcap's TCP/IP packets are reconstructed from the bytes each side wrote, not captured.";

const RACE_EXAMPLES: &str = "\
Examples:
  netlab race                                   100 messages, 20% loss each way
  netlab race --loss 0%                         a perfect wire: both deliver everything
  netlab race --loss 20% --reorder 10% --delay 30ms --count 200
  netlab race --seed 7                          the same wire decisions as another --seed 7 run
  netlab race --json | jq .udp                  one JSON object: tcp, udp, wire
  netlab race -w race.pcap && netlab dissect race.pcap --filter tcp   what the wire delivered

netlab moves into two private, anonymous network namespaces (the server sockets in one,
the clients in the other), each with a TUN device, and is itself the wire between them:
it drops, holds back and delays packets in both directions — TCP's ACKs too. UDP runs
first, then TCP, over the same wire. Both namespaces vanish when netlab exits, however it
exits (Ctrl-C included); the host's own network is never touched. No root needed: both
namespaces belong to a user namespace netlab makes first.";

const CAPTURE_EXAMPLES: &str = "\
Examples:
  netlab capture -- netlab tcp connect --own-server --send hello   a command's own packets, no root
  netlab capture -v -- python3 client.py                 the layer tree of everything it sends
  netlab capture --json -w run.pcap -- sh -c '(node server.js & sleep 1; node client.js) >&2'
  sudo netlab capture                                    everything on this machine's lo
  sudo netlab capture -i lo --filter 'tcp.port == 7000'  then run a client in another terminal
  sudo netlab capture -x -c 1                            one packet's bytes, coloured by layer
  sudo netlab capture -c 10 -w lo.pcap                   also save them for tshark/Wireshark

With `-- CMD [ARGS…]`, netlab runs CMD in a private network namespace whose only
interface is lo (up), and shows every packet CMD exchanges there: no root needed (a user
namespace of netlab's own), and CMD runs as you (with no privileges unless you are root).
CMD sees no outside network: it can talk to itself and its children on 127.0.0.1 and ::1,
nothing else. Whatever it leaves running in the background is ended with it. CMD's own
output goes where netlab's does; to keep --json clean, send it elsewhere (sh -c 'CMD >&2').
netlab ends when CMD does and exits with CMD's status (128+N if signal N ended it; 127 if
CMD cannot be found); -c N ends CMD after N packets (status 0); Ctrl-C reaches CMD, and
if it has not ended 2 s later (or at a second Ctrl-C) netlab ends it.

Without `--`, netlab captures on one of this machine's interfaces (-i, lo by default):
that needs CAP_NET_RAW (sudo), because a packet socket there sees every user's traffic.
Ctrl-C stops the capture and prints how many packets were captured. The filter is a
display filter, the same as `netlab dissect --filter`; -c and -w count and save only the
packets it keeps.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// netlab opens the connection (active open) to a kernel listener.
    Client,
    /// A kernel client connects to netlab's endpoint (passive open).
    Server,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CloseHow {
    /// FIN/ACK in both directions, then TIME-WAIT.
    Fin,
    /// Abort with RST.
    Rst,
}

#[derive(Debug, Args)]
pub struct HandshakeArgs {
    /// Who opens the connection.
    #[arg(long, value_enum, default_value_t = Role::Client)]
    pub role: Role,

    /// Send TEXT once the connection is established (repeatable); the kernel side echoes it.
    #[arg(long, value_name = "TEXT")]
    pub send: Vec<String>,

    /// Once established, send this many bytes (`100kB`, `1MB`) and watch netlab's
    /// congestion control: cwnd, ssthresh and the bytes in flight with every segment,
    /// and each change of phase explained. The peer just reads (no echo).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, conflicts_with = "target")]
    pub bulk: Option<u64>,

    /// How netlab closes the connection.
    #[arg(long, value_enum, default_value_t = CloseHow::Fin)]
    pub close: CloseHow,

    /// Send the SYN to a port nobody listens on: the kernel answers RST/ACK.
    #[arg(long)]
    pub closed_port: bool,

    /// Drop packets on the wire: a packet number (`2`), or `syn`, `syn-ack`, `ack`,
    /// `data`, `fin` (the first such packet). Repeatable.
    #[arg(long, value_name = "SPEC")]
    pub drop: Vec<String>,

    /// Hold the first data segment back until the next segment in the same direction
    /// has passed.
    #[arg(long)]
    pub reorder: bool,

    /// Delay every packet on the wire by MS milliseconds.
    #[arg(long, value_name = "MS")]
    pub delay: Option<u64>,

    /// Use IPv6 (fd00:6e6c::1 and fd00:6e6c::2 inside the private namespace).
    #[arg(long)]
    pub ipv6: bool,

    /// Save every packet delivered on the wire to a pcap file (raw IP link type).
    #[arg(short = 'w', long, value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,

    /// Print the trace as NDJSON events (packet, state, timer, summary).
    #[arg(long)]
    pub json: bool,

    /// No privileges needed: netlab's endpoint talks to a second netlab endpoint over an
    /// in-memory wire with a virtual clock.
    #[arg(long)]
    pub simulate: bool,

    /// The kernel listener's port.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// Real-network mode: connect to HOST:PORT over raw sockets instead of the sandbox.
    /// The local kernel will answer the SYN-ACK with RST (it owns no such connection).
    /// Only ever aim it at a host you run yourself (a namespace of your own, loopback).
    #[arg(long, value_name = "HOST:PORT", conflicts_with_all = ["simulate", "closed_port"])]
    pub target: Option<std::net::SocketAddr>,

    /// With --target: install a temporary nftables rule that drops the local kernel's
    /// RSTs for exactly this connection; it is removed on every exit path.
    #[arg(long, requires = "target")]
    pub suppress_kernel_rst: bool,
}

#[derive(Debug, Subcommand)]
pub enum WsCommand {
    /// An echo or chat-room WebSocket server; serves a small page at `/` that uses the
    /// browser's WebSocket API.
    #[command(
        after_help = "Examples:\n  netlab ws serve --echo --trace\n  netlab ws serve --chat --addr 127.0.0.1:9001   then open http://127.0.0.1:9001/ in two browser tabs"
    )]
    Serve(WsServeArgs),
    /// A WebSocket client, like websocat.
    #[command(
        after_help = "Examples:\n  netlab ws connect ws://127.0.0.1:9001/ --send hello --send world\n  netlab ws connect ws://127.0.0.1:9001/ --interactive --trace"
    )]
    Connect(WsConnectArgs),
}

#[derive(Debug, Args)]
pub struct WsServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001")]
    pub addr: std::net::SocketAddr,
    /// Echo every message back to its sender (the default).
    #[arg(long, conflicts_with = "chat")]
    pub echo: bool,
    /// Broadcast every message to every connected client.
    #[arg(long)]
    pub chat: bool,
    /// Print every frame as it passes, decoded field by field.
    #[arg(long)]
    pub trace: bool,
    /// Accept only these Origin values (repeatable); without it any origin is accepted.
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Vec<String>,
    /// Subprotocols the server speaks, in order of preference (repeatable).
    #[arg(long, value_name = "NAME")]
    pub protocol: Vec<String>,
    /// Largest message accepted, in bytes (larger: close 1009).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub max_message: usize,
    /// Do not print a line per message (connections, errors and --trace still print).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Most connections served at once; more are answered `503 Service Unavailable`
    /// before the upgrade. Default: the open-file limit (raised to its hard value at
    /// start) less 64 descriptors the server keeps; the start-up line says which.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Chat: bytes a client may leave unread before it is cut off with close 1008
    /// (a slow reader must not hold the others up or grow the server's memory).
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_backlog: usize,
}

#[derive(Debug, Args)]
pub struct WsConnectArgs {
    /// ws://HOST:PORT/PATH
    pub url: String,
    /// Send TEXT as a text message (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub send: Vec<String>,
    /// Send the contents of F as one binary message.
    #[arg(long, value_name = "F")]
    pub binary_file: Option<PathBuf>,
    /// Read lines from standard input and send each as a message.
    #[arg(long)]
    pub interactive: bool,
    /// Print every frame decoded field by field.
    #[arg(long)]
    pub trace: bool,
    /// Offer this subprotocol (repeatable).
    #[arg(long, value_name = "NAME")]
    pub protocol: Vec<String>,
    /// How long to wait for replies after the last send, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub wait: u64,
    /// Send every message received back to the server (what a test server such as
    /// the Autobahn fuzzingserver expects of a client).
    #[arg(long)]
    pub echo: bool,
}

#[derive(Debug, Args)]
pub struct WsUpgradeArgs {
    /// The client's Sec-WebSocket-Key: base64 of 16 bytes (random without it).
    #[arg(long, value_name = "BASE64")]
    pub key: Option<String>,
    /// Save every byte that crossed the connection to a pcap file (raw IP link type), as
    /// TCP/IP packets reconstructed from the byte stream.
    #[arg(short = 'w', long, value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DissectArgs {
    /// The capture file (pcap or pcapng); `-` reads standard input.
    pub file: PathBuf,

    /// Show each packet as a tree of layers and fields, with meanings and byte offsets.
    #[arg(short, long)]
    pub verbose: bool,

    /// Show each packet's bytes in hex and ASCII, coloured by layer.
    #[arg(short = 'x', long)]
    pub hex: bool,

    /// Print NDJSON: one JSON object per packet, fields named as in Wireshark.
    #[arg(long, conflicts_with_all = ["verbose", "hex", "stats"])]
    pub json: bool,

    /// Only show packets matching a display filter, e.g. `tcp.port == 80 && ip.ttl < 64`.
    #[arg(short = 'Y', long, value_name = "EXPR")]
    pub filter: Option<String>,

    /// Stop after N (displayed) packets.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,

    /// Instead of packets, print packets and bytes per protocol and the TCP/UDP
    /// conversations.
    #[arg(long)]
    pub stats: bool,

    /// Dissect a port's traffic as a protocol, in Wireshark's syntax:
    /// `tcp.port==8765,http`, `udp.port==5300,dns`, `tcp.port==9000-9010,websocket`
    /// (`data` turns a dissector off). Repeatable.
    #[arg(short = 'd', long = "decode-as", value_name = "LAYER==PORT,PROTOCOL")]
    pub decode_as: Vec<String>,

    /// Instead of packets, show one conversation as each side sent it (Wireshark's
    /// Follow Stream): `tcp.stream==N`, `udp.stream==N`, or `N` for TCP stream N.
    #[arg(long, value_name = "STREAM", conflicts_with_all = ["json", "stats", "verbose", "hex"])]
    pub follow: Option<String>,

    /// How `--follow` shows the bytes: `ascii` (text), `hex` (a dump per side), or
    /// `raw` (one side's bytes as they are, to pipe into a file; the counts go to
    /// standard error).
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "ascii",
        requires = "follow"
    )]
    pub follow_format: FollowFormat,

    /// Which side `--follow-format raw` writes: the server's (what was downloaded, by
    /// default) or the client's (what was sent). The client is the side that sent the
    /// SYN, or else the first segment.
    #[arg(
        long,
        value_enum,
        value_name = "SIDE",
        default_value = "server",
        requires = "follow"
    )]
    pub follow_side: FollowSide,

    /// Instead of packets, draw packet N (numbered from 1, as in the packet list) as
    /// the onion: nested layers from the link to the application's message, each with
    /// its course name, header bytes and what it adds, then what each layer cost.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..),
        conflicts_with_all = ["json", "stats", "verbose", "hex", "follow", "filter", "count"]
    )]
    pub onion: Option<u64>,

    /// Read the capture twice, as tshark's `-2`: the first pass learns links forward in
    /// time (an HTTP request's `http.response_in`), the second shows them. Files only,
    /// not standard input.
    #[arg(short = '2', long = "two-pass", conflicts_with_all = ["follow", "onion"])]
    pub two_pass: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FollowFormat {
    Ascii,
    Hex,
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FollowSide {
    Client,
    Server,
}

/// A percentage: `20%`, `20` or `0.5%`.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let n = s.trim().trim_end_matches('%');
    match n.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(format!("`{s}` is not a percentage from 0% to 100%")),
    }
}

/// A duration: `30ms`, `1.5s`, or a bare number of milliseconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1e-3)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v >= 0.0 && v * scale <= 10.0 => Ok(std::time::Duration::from_secs_f64(v * scale)),
        _ => Err(format!("`{s}` is not a delay from 0ms to 10s (e.g. 30ms)")),
    }
}

#[derive(Debug, Args)]
pub struct RaceArgs {
    /// Chance that the wire drops a packet, each way (TCP's ACKs and SYNs included).
    #[arg(long, value_name = "PERCENT", default_value = "20%", value_parser = parse_percent)]
    pub loss: f64,

    /// Chance that the wire holds a packet back until the next one in the same direction
    /// has passed it.
    #[arg(long, value_name = "PERCENT", default_value = "0%", value_parser = parse_percent)]
    pub reorder: f64,

    /// Delay every packet on the wire by this much (`30ms`, `0.1s`).
    #[arg(long, value_name = "TIME", default_value = "0ms", value_parser = parse_duration)]
    pub delay: std::time::Duration,

    /// How many numbered messages each protocol carries (one every millisecond).
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub count: u32,

    /// Seed of the wire's dice: the same seed drops and reorders the same packets of
    /// each direction (random, and printed, without it).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Give TCP at most this many seconds (with heavy loss its timer backs off
    /// exponentially); a run cut short says so.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Use IPv6 inside the namespaces (fd00:6e6c:72::1 and ::2).
    #[arg(long)]
    pub ipv6: bool,

    /// Save every packet the wire delivered, both runs, to a pcap file (raw IP link
    /// type): `netlab dissect` or Wireshark then show the retransmissions.
    #[arg(short = 'w', long, value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,

    /// Print the result as one JSON object: {"tcp": {…}, "udp": {…}, "wire": {…}}.
    #[arg(long)]
    pub json: bool,
}

const CONGESTION_EXAMPLES: &str = "\
Examples:
  netlab congestion                          4 MB through 10 Mbit/s, a 100-packet queue, 20 ms each way
  netlab congestion --cc reno                the classic sawtooth (--cc lists what the kernel offers)
  netlab congestion --queue 10               a small buffer: more drops, less delay
  netlab congestion --queue 1000             a huge buffer: few drops, bufferbloat
  netlab congestion --flows 3                three flows share the link
  netlab congestion --plot cc.svg            the same charts as an SVG file
  netlab congestion --json | jq 'select(.event == \"summary\")'

netlab moves into two private, anonymous network namespaces (the receiver in one, the
senders in the other) and is the wire between them: the sender's direction goes through
a token bucket at --rate with a drop-tail queue of --queue packets; every packet is
delayed --delay each way. The queue's drops are congestion losses. The kernel's TCP_INFO
is sampled every 10 ms. No root needed (a user namespace, as for race).";

const NAGLE_EXAMPLES: &str = "\
Examples:
  netlab nagle                               20 rounds, Nagle on and off, 10 ms each way
  netlab nagle --quickack --cork             also TCP_QUICKACK at the server, TCP_CORK at the client
  netlab nagle --delay 50ms --rounds 10      a longer path
  netlab nagle --json | jq .nagle.median_ms
  netlab nagle -w nagle.pcap && netlab dissect nagle.pcap   the segments as the wire saw them

The client (one private namespace) writes a small header and a small body, then reads
the reply; the server (another namespace) replies once it has both. With Nagle's
algorithm the body waits for the header's ACK, which the server delays (about 40 ms on
Linux) hoping to send it with data. No root needed (a user namespace, as for race).";

/// A size in bytes: `4MB`, `500kB`, `1MiB`, `1000000`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let (num, mult) = [
        ("gib", 1u64 << 30),
        ("mib", 1 << 20),
        ("kib", 1 << 10),
        ("gb", 1_000_000_000),
        ("mb", 1_000_000),
        ("kb", 1_000),
        ("b", 1),
    ]
    .into_iter()
    .find_map(|(suf, m)| lower.strip_suffix(suf).map(|n| (n.to_string(), m)))
    .unwrap_or((lower.clone(), 1));
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 1.0 && v * mult as f64 <= 1e10 => {
            Ok((v * mult as f64).round() as u64)
        }
        _ => Err(format!(
            "`{s}` is not a size from 1 byte to 10 GB (e.g. 4MB)"
        )),
    }
}

/// A rate in bits per second from text: `10mbit`, `1.5mbit`, `500kbit`, `1gbit`, or a
/// plain number of bits per second. (As `tc` spells them; `bps` would be bytes there, so
/// netlab refuses it rather than guess.)
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = t.strip_suffix("gbit") {
        (n, 1e9)
    } else if let Some(n) = t.strip_suffix("mbit") {
        (n, 1e6)
    } else if let Some(n) = t.strip_suffix("kbit") {
        (n, 1e3)
    } else if let Some(n) = t.strip_suffix("bit") {
        (n, 1.0)
    } else {
        (t.as_str(), 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * mult >= 1.0 && v * mult <= 1e12 => {
            Ok((v * mult).round() as u64)
        }
        _ => Err(format!(
            "bad rate `{s}`: a number with kbit, mbit or gbit, e.g. 10mbit"
        )),
    }
}

#[derive(Debug, Args)]
pub struct CongestionArgs {
    /// The bottleneck's rate, in the sender's direction (`10mbit`, `1.5mbit`, `500kbit`).
    #[arg(long, value_name = "RATE", default_value = "10mbit", value_parser = parse_rate)]
    pub rate: u64,

    /// How many packets the bottleneck's queue holds; the next one is dropped
    /// (drop-tail). Large queues add delay instead of drops: bufferbloat.
    #[arg(long, value_name = "PACKETS", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub queue: u32,

    /// Delay every packet by this much, each way (`20ms`).
    #[arg(long, value_name = "TIME", default_value = "20ms", value_parser = parse_duration)]
    pub delay: std::time::Duration,

    /// Also lose this share of the sender's packets at random (not congestion).
    #[arg(long, value_name = "PERCENT", default_value = "0%", value_parser = parse_percent)]
    pub loss: f64,

    /// Bytes each flow sends (`4MB`, `500kB`).
    #[arg(long, value_name = "SIZE", default_value = "4MB", value_parser = parse_size)]
    pub bytes: u64,

    /// The kernel's congestion control for the senders (TCP_CONGESTION): cubic, reno,
    /// bbr … (default: cubic where the kernel has it).
    #[arg(long, value_name = "NAME")]
    pub cc: Option<String>,

    /// How many flows send at once, sharing the link.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    pub flows: u32,

    /// Seed of the wire's dice for --loss (random, and printed, without it).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Stop after this many seconds even if a flow has not finished.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Also draw the charts into an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Save every packet the wire delivered to a pcap file (raw IP link type).
    #[arg(short = 'w', long, value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,

    /// Print NDJSON: a `sample` event per TCP_INFO sample, a `drop` event per packet
    /// the wire dropped, then a `summary`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NagleArgs {
    /// Delay every packet by this much, each way.
    #[arg(long, value_name = "TIME", default_value = "10ms", value_parser = parse_duration)]
    pub delay: std::time::Duration,

    /// Request/reply rounds per variant.
    #[arg(long, value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub rounds: u32,

    /// Bytes of each of the two writes.
    #[arg(long, value_name = "BYTES", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub size: u32,

    /// Also run with TCP_QUICKACK set by the server after every read (no delayed ACK).
    #[arg(long)]
    pub quickack: bool,

    /// Also run with TCP_CORK at the client (both writes leave as one segment).
    #[arg(long)]
    pub cork: bool,

    /// Also draw the per-round latencies into an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Save every packet the wire delivered to a pcap file (raw IP link type).
    #[arg(short = 'w', long, value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,

    /// Print one JSON object: {"nagle": {…}, "nodelay": {…}, …}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The interface to capture on (`ip link` lists them).
    #[arg(short = 'i', long, value_name = "IFACE", default_value = "lo")]
    pub interface: String,

    /// Run CMD in a private network namespace (only lo) and capture what it exchanges
    /// there: no root needed.
    #[arg(last = true, value_name = "CMD [ARGS]", conflicts_with = "interface")]
    pub command: Vec<std::ffi::OsString>,

    /// Only show packets matching a display filter, e.g. `udp.port == 9999`.
    #[arg(short = 'Y', long, value_name = "EXPR")]
    pub filter: Option<String>,

    /// Stop after N (shown) packets.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,

    /// Also save the shown packets to a pcap file (the interface's link type).
    #[arg(short = 'w', long, value_name = "FILE.pcap")]
    pub write: Option<PathBuf>,

    /// Show each packet as a tree of layers and fields, with meanings and byte offsets.
    #[arg(short, long)]
    pub verbose: bool,

    /// Show each packet's bytes in hex and ASCII, coloured by layer.
    #[arg(short = 'x', long)]
    pub hex: bool,

    /// Print NDJSON: one JSON object per packet, fields named as in Wireshark.
    #[arg(long, conflicts_with_all = ["verbose", "hex"])]
    pub json: bool,
}

const TCP_SERVE_EXAMPLES: &str = "\
Examples:
  netlab tcp serve                                 echo server on 127.0.0.1:7000
  netlab tcp serve --addr '[::1]:7000'             the same over IPv6
  netlab tcp serve --addr 127.0.0.1:0              port 0: the kernel picks a free one
  netlab tcp serve --read-delay 500                let writes pile up before each read

Then, from another terminal: netlab tcp connect 127.0.0.1:7000 --send hello
Stop it with Ctrl-C.";

const TCP_CONNECT_EXAMPLES: &str = "\
Examples:
  netlab tcp connect 127.0.0.1:7000 --send hello
  netlab tcp connect 127.0.0.1:7000 --send a --send b --send c       three writes, how many reads?
  netlab tcp connect 127.0.0.1:7000 --send a --send b --send c --nodelay
  netlab tcp connect '[::1]:7000' --send hello                       IPv6
  netlab tcp connect --own-server --send a --send b --send c         no server needed: netlab runs one

With --own-server the server waits until the client's writes are all in its receive
buffer before it reads, so you see one recv() return the bytes of several send()s.";

const UDP_SERVE_EXAMPLES: &str = "\
Examples:
  netlab udp serve                                 print and echo datagrams on 127.0.0.1:7001
  netlab udp serve --addr '[::1]:7001' --no-echo   IPv6, print only

Then, from another terminal: netlab udp send 127.0.0.1:7001 a b c
Stop it with Ctrl-C.";

const UDP_SEND_EXAMPLES: &str = "\
Examples:
  netlab udp send 127.0.0.1:7001 a b c             three datagrams, three echoes
  netlab udp send '[::1]:7001' hello               IPv6
  netlab udp send 127.0.0.1:7001 hi --wait 0       do not wait for replies
  netlab udp send --own-server a b c               no server needed: netlab runs one";

const PORTS_EXAMPLES: &str = "\
Examples:
  netlab ports                                     every TCP and UDP socket
  netlab ports --listening                         servers only (like ss -tulpn)
  netlab ports --tcp --port 7000                   who uses TCP port 7000
  netlab ports --json | head -3                    NDJSON, one socket per line

Seeing other users' processes needs root (sudo netlab ports), as with ss -p.";

#[derive(Debug, Subcommand)]
pub enum TcpCommand {
    /// A TCP echo server, one thread per client; prints each system call.
    #[command(after_help = TCP_SERVE_EXAMPLES)]
    Serve(TcpServeArgs),
    /// A TCP client: connect, send each TEXT, read the echo, close; prints each system call.
    #[command(after_help = TCP_CONNECT_EXAMPLES)]
    Connect(TcpConnectArgs),
}

#[derive(Debug, Args)]
pub struct TcpServeArgs {
    /// Address to listen on (IPv4 or [IPv6]; port 0 lets the kernel pick).
    #[arg(long, default_value = "127.0.0.1:7000")]
    pub addr: std::net::SocketAddr,
    /// listen()'s backlog: how many finished handshakes may wait for accept().
    #[arg(long, default_value_t = 128)]
    pub backlog: i32,
    /// Wait MS milliseconds after accept() before the first recv(), so a client's
    /// writes pile up in the receive buffer.
    #[arg(long, value_name = "MS")]
    pub read_delay: Option<u64>,
    /// Print NDJSON events (one object per system call or event).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TcpConnectArgs {
    /// The server, IP:PORT or [IPv6]:PORT (leave out with --own-server).
    #[arg(value_name = "ADDR", required_unless_present = "own_server")]
    pub addr: Option<std::net::SocketAddr>,
    /// Send TEXT (repeatable); all are sent one after the other before reading.
    #[arg(long, value_name = "TEXT")]
    pub send: Vec<String>,
    /// Set TCP_NODELAY: turn Nagle's algorithm off, small writes leave at once.
    #[arg(long)]
    pub nodelay: bool,
    /// How long to wait for the echo and for the server's FIN, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub wait: u64,
    /// Run netlab's own echo server on a free 127.0.0.1 port in this process and connect
    /// to it (both sides are printed).
    #[arg(long, conflicts_with = "addr")]
    pub own_server: bool,
    /// Print NDJSON events (one object per system call or event).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum UdpCommand {
    /// A UDP server: prints each datagram (sender, length, content) and echoes it.
    #[command(after_help = UDP_SERVE_EXAMPLES)]
    Serve(UdpServeArgs),
    /// Send one datagram per TEXT, then wait briefly for replies.
    #[command(after_help = UDP_SEND_EXAMPLES)]
    Send(UdpSendArgs),
}

#[derive(Debug, Args)]
pub struct UdpServeArgs {
    /// Address to bind (IPv4 or [IPv6]; port 0 lets the kernel pick).
    #[arg(long, default_value = "127.0.0.1:7001")]
    pub addr: std::net::SocketAddr,
    /// Do not echo datagrams back, only print them.
    #[arg(long)]
    pub no_echo: bool,
    /// Wait MS milliseconds before the first recvfrom(), so datagrams pile up.
    #[arg(long, value_name = "MS")]
    pub read_delay: Option<u64>,
    /// Print NDJSON events (one object per system call or event).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UdpSendArgs {
    /// ADDR (IP:PORT or [IPv6]:PORT) then one TEXT per datagram; with --own-server only
    /// the TEXTs.
    #[arg(value_name = "ADDR TEXT", required = true)]
    pub args: Vec<String>,
    /// How long to wait for replies after the last datagram, in milliseconds (0: none).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub wait: u64,
    /// Run netlab's own UDP echo server on a free 127.0.0.1 port in this process.
    #[arg(long)]
    pub own_server: bool,
    /// Print NDJSON events (one object per system call or event).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PortsArgs {
    /// Only sockets waiting for peers: TCP in LISTEN, unconnected UDP.
    #[arg(short, long)]
    pub listening: bool,
    /// Only TCP sockets.
    #[arg(short, long)]
    pub tcp: bool,
    /// Only UDP sockets.
    #[arg(short, long)]
    pub udp: bool,
    /// Only sockets whose local or peer port is PORT.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Print NDJSON: one object per socket.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SocketioCommand {
    /// A Socket.IO server (chat demo) that the official socket.io-client v4 connects to,
    /// over WebSocket or HTTP long-polling with the upgrade; serves a chat page at `/`.
    #[command(after_help = SOCKETIO_SERVE_EXAMPLES)]
    Serve(SioServeArgs),
    /// A Socket.IO client that the official socket.io v4 server accepts: emits events,
    /// prints what it receives and the acknowledgements.
    #[command(after_help = SOCKETIO_CONNECT_EXAMPLES)]
    Connect(SioConnectArgs),
    /// netlab's server and client in one process on 127.0.0.1: one emit and its
    /// acknowledgement traced through every layer (no second terminal needed).
    #[command(
        after_help = "Examples:\n  netlab socketio demo\n  netlab socketio demo --transport polling\n  netlab socketio demo --binary\n  netlab socketio demo --event chat --json '{\"text\":\"hi\",\"n\":1}'"
    )]
    Demo(SioDemoArgs),
}

#[derive(Debug, Args)]
pub struct SioDemoArgs {
    /// How the client reaches the server.
    #[arg(long, value_enum, default_value_t = SioTransport::Websocket)]
    pub transport: SioTransport,
    /// The event to emit.
    #[arg(long, default_value = "chat")]
    pub event: String,
    /// Its one argument, JSON.
    #[arg(long, value_name = "JSON", default_value = "\"hi\"")]
    pub json: String,
    /// Also emit `upload` with a binary argument (a placeholder and an attachment).
    #[arg(long)]
    pub binary: bool,
}

const SOCKETIO_SERVE_EXAMPLES: &str = "\
Examples:
  netlab socketio serve                                   then open http://127.0.0.1:3000/ in two tabs
  netlab socketio serve --trace --addr 127.0.0.1:3001     every message through every layer
  netlab socketio serve --auth-token s3cret               namespaces need auth: {token: 's3cret'}
  netlab socketio serve --ping-interval 1000 --ping-timeout 500   watch the heartbeat

The demo: a `chat` event goes to the other sockets of its namespace; `join ROOM` joins a
room and `say ROOM …` goes to the room's other sockets; `bye` makes the server disconnect
the socket; every event that asks for an acknowledgement is acked with its own arguments
(binary attachments included).";

const SOCKETIO_CONNECT_EXAMPLES: &str = "\
Examples:
  netlab socketio connect http://127.0.0.1:3000 --emit chat '\"hi\"' --ack
  netlab socketio connect http://127.0.0.1:3000 --namespace /admin --auth '{\"token\":\"s3cret\"}' --listen
  netlab socketio connect http://127.0.0.1:3000 --emit-binary upload ./photo.png --ack --trace
  netlab socketio connect http://127.0.0.1:3000 --transport polling --emit chat '[1,2]' --ack
  netlab socketio connect http://127.0.0.1:3000 --transport auto --trace --emit chat '\"hi\"' --ack

--emit EVENT JSON sends one argument, JSON (text that is not JSON is sent as a string);
--emit-binary EVENT FILE sends the file's bytes as one binary argument (a Buffer).";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SioTransport {
    /// A WebSocket from the start (`transports: ['websocket']`).
    Websocket,
    /// HTTP long-polling only: GET waits for packets, POST sends them.
    Polling,
    /// Long-polling first, then the upgrade to a WebSocket (`2probe`, `3probe`, `5`):
    /// what the official client does by default.
    Auto,
}

#[derive(Debug, Args)]
pub struct SioServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: std::net::SocketAddr,
    /// Show each message at every layer: the call, Socket.IO, Engine.IO, the WebSocket
    /// frame or HTTP request carrying it, and what lies below.
    #[arg(long)]
    pub trace: bool,
    /// Require `auth: {token: TOKEN}` to join any namespace (else CONNECT_ERROR).
    #[arg(long, value_name = "TOKEN")]
    pub auth_token: Option<String>,
    /// Milliseconds between the server's pings.
    #[arg(long, value_name = "MS", default_value_t = 25_000)]
    pub ping_interval: u64,
    /// Milliseconds to wait for a pong before closing the session.
    #[arg(long, value_name = "MS", default_value_t = 20_000)]
    pub ping_timeout: u64,
    /// Largest HTTP body or WebSocket message accepted, in bytes (larger: 413 or 1009).
    #[arg(long, value_name = "BYTES", default_value_t = 1_000_000)]
    pub max_payload: usize,
    /// No line per event (sessions, errors and --trace still print).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Most TCP connections served at once; more are answered `503 Service Unavailable`
    /// before any upgrade. Default: the open-file limit (its soft value raised to the
    /// hard one at start) less 64 descriptors for the server itself.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
}

#[derive(Debug, Args)]
pub struct SioConnectArgs {
    /// http://HOST:PORT (the path /socket.io/ is added).
    pub url: String,
    /// The namespace to join.
    #[arg(long, default_value = "/")]
    pub namespace: String,
    /// The auth payload of the CONNECT packet, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub auth: Option<String>,
    /// Emit EVENT with one JSON argument (repeatable).
    #[arg(long, num_args = 2, value_names = ["EVENT", "JSON"])]
    pub emit: Vec<String>,
    /// Emit EVENT with the bytes of FILE as one binary argument (repeatable).
    #[arg(long, num_args = 2, value_names = ["EVENT", "FILE"])]
    pub emit_binary: Vec<String>,
    /// Ask for an acknowledgement of each emit, and print it.
    #[arg(long)]
    pub ack: bool,
    /// Stay connected and print events until the server disconnects (or Ctrl-C).
    #[arg(long)]
    pub listen: bool,
    /// Show each message at every layer.
    #[arg(long)]
    pub trace: bool,
    /// How to reach the server.
    #[arg(long, value_enum, default_value_t = SioTransport::Websocket)]
    pub transport: SioTransport,
    /// Without --listen: how long to wait for acknowledgements and events, in ms.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub wait: u64,
    /// Do not answer the server's pings: watch it close the session after its
    /// pingTimeout (the heartbeat at work).
    #[arg(long)]
    pub ignore_pings: bool,
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn rates_and_sizes_parse() {
        assert_eq!(parse_rate("10mbit"), Ok(10_000_000));
        assert_eq!(parse_rate("1.5Mbit"), Ok(1_500_000));
        assert_eq!(parse_rate("500kbit"), Ok(500_000));
        assert_eq!(parse_rate("1gbit"), Ok(1_000_000_000));
        assert_eq!(parse_rate("64000"), Ok(64_000));
        for bad in ["", "fast", "10mbps", "-1mbit", "0mbit", "nanmbit"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_size("4MB"), Ok(4_000_000));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("500kB"), Ok(500_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err() && parse_size("0").is_err());
    }
}
