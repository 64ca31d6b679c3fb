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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

const DISSECT_EXAMPLES: &str = "\
Examples:
  netlab dissect captures/http.pcap                    one line per packet
  netlab dissect -v -c 3 captures/http.pcap            the layer tree of the first 3 packets
  netlab dissect -x captures/ping4.pcap                coloured hex dump with a legend
  netlab dissect --json captures/dns.pcap | head -1    NDJSON, Wireshark field names
  netlab dissect --filter 'tcp.flags.syn == 1 && !tcp.flags.ack' captures/http.pcap
  netlab dissect --stats captures/http.pcap            protocols and conversations
  tcpdump -i lo -w - | netlab dissect -                read a capture from standard input

Exit status: 0 when every packet was read; 1 on an error, or when the capture is cut
short (every complete packet is shown first, then a warning says where it stopped).";

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
}
