//! Live capture on one interface with pnet's datalink channel (`AF_PACKET`, `SOCK_RAW`):
//! every frame the interface sends or receives, link-layer header included — what
//! tcpdump and Wireshark read through libpcap.
//!
//! Two details libpcap takes care of, done here too:
//! - the socket is created listening to *no* protocol and only bound to the interface
//!   (with `ETH_P_ALL`) by pnet afterwards, so no frame of another interface slips in
//!   between `socket()` and `bind()`;
//! - on the loopback device every packet passes the packet tap twice, once leaving
//!   (`PACKET_OUTGOING`) and once arriving (`PACKET_HOST`); a classic BPF program on the
//!   socket drops the leaving copy, so each packet is shown once.
//!
//! Promiscuous mode stays off: netlab watches this host's own traffic and leaves the
//! interface's flags as they are.

use std::io;
use std::time::Duration;

use pnet_datalink::{Channel, Config, DataLinkReceiver, NetworkInterface};

/// Why the capture could not start.
#[derive(Debug)]
pub enum SniffError {
    /// Packet sockets need CAP_NET_RAW.
    NotPermitted,
    /// No interface of that name; the names there are.
    NoSuchInterface(String, Vec<String>),
    /// An interface whose frames netlab cannot label with a pcap link type.
    Unsupported(String, u32),
    Io(&'static str, io::Error),
}

impl std::fmt::Display for SniffError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SniffError::NotPermitted => write!(
                f,
                "capturing on this machine's interfaces needs CAP_NET_RAW (a packet socket \
                 sees every frame of an interface, every user's); to watch a command of your \
                 own, no root is needed: `netlab capture -- CMD`; otherwise run \
                 `sudo netlab capture …`, or once: \
                 sudo setcap cap_net_admin,cap_net_raw+ep \"$(command -v netlab)\" (then \
                 anyone who can run netlab may read every packet)"
            ),
            SniffError::NoSuchInterface(name, have) => write!(
                f,
                "no interface `{name}` on this machine (there are: {})",
                have.join(", ")
            ),
            SniffError::Unsupported(name, arphrd) => write!(
                f,
                "`{name}` has hardware type {arphrd} (see /sys/class/net/{name}/type); netlab \
                 captures on Ethernet, loopback and TUN (raw IP) interfaces"
            ),
            SniffError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for SniffError {}

/// `ARPHRD_*` hardware types (linux/if_arp.h) and the pcap link type of their frames.
fn linktype_of(arphrd: u32) -> Option<u32> {
    match arphrd {
        // ARPHRD_ETHER, and ARPHRD_LOOPBACK: Linux's lo carries Ethernet headers with
        // all-zero addresses (DLT_EN10MB, as tcpdump -i lo records it).
        1 | 772 => Some(1),
        // ARPHRD_NONE: a TUN device, bare IP packets (LINKTYPE_RAW).
        65534 => Some(101),
        _ => None,
    }
}

/// An open capture on one interface.
pub struct Sniffer {
    rx: Box<dyn DataLinkReceiver>,
    /// The pcap link type of the frames `next_frame` returns.
    pub linktype: u32,
    pub name: String,
}

const SKF_AD_OFF: u32 = (-0x1000i32) as u32;
const SKF_AD_PKTTYPE: u32 = 4;
const PACKET_OUTGOING: u32 = 4;

/// `ld pkttype; jeq OUTGOING → drop; accept`: the BPF program libpcap puts on loopback.
fn drop_outgoing(fd: i32) -> io::Result<()> {
    let prog = [
        // BPF_LD | BPF_W | BPF_ABS: A = the packet's pkttype (an ancillary "offset").
        libc::sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: SKF_AD_OFF + SKF_AD_PKTTYPE,
        },
        // BPF_JMP | BPF_JEQ | BPF_K: outgoing → next instruction, else skip one.
        libc::sock_filter {
            code: 0x15,
            jt: 0,
            jf: 1,
            k: PACKET_OUTGOING,
        },
        // BPF_RET | BPF_K: keep 0 bytes (drop).
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0,
        },
        // BPF_RET | BPF_K: keep the whole frame.
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: u32::MAX,
        },
    ];
    super::raw::attach_filter(fd, &prog)
}

impl Sniffer {
    /// Opens a capture on `name`. `poll` bounds each wait in [`Sniffer::next_frame`], so the
    /// caller can look at a Ctrl-C flag in between.
    pub fn open(name: &str, poll: Duration) -> Result<Sniffer, SniffError> {
        let all = pnet_datalink::interfaces();
        let Some(iface) = all.iter().find(|i| i.name == name).cloned() else {
            let mut names: Vec<String> = all.into_iter().map(|i| i.name).collect();
            names.sort();
            return Err(SniffError::NoSuchInterface(name.to_string(), names));
        };
        let arphrd: u32 = std::fs::read_to_string(format!("/sys/class/net/{name}/type"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1);
        let linktype =
            linktype_of(arphrd).ok_or_else(|| SniffError::Unsupported(name.to_string(), arphrd))?;
        let rx = open_channel(&iface, arphrd == 772, poll)?;
        Ok(Sniffer {
            rx,
            linktype,
            name: name.to_string(),
        })
    }

    /// The next frame, or `Ok(None)` when the poll interval passed (or a signal came)
    /// without one.
    pub fn next_frame(&mut self) -> io::Result<Option<&[u8]>> {
        match self.rx.next() {
            Ok(frame) => Ok(Some(frame)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

fn open_channel(
    iface: &NetworkInterface,
    loopback: bool,
    poll: Duration,
) -> Result<Box<dyn DataLinkReceiver>, SniffError> {
    // Protocol 0: the socket hears nothing until pnet binds it to the interface.
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => SniffError::NotPermitted,
            _ => SniffError::Io("packet socket", e),
        });
    }
    if loopback && let Err(e) = drop_outgoing(fd) {
        // SAFETY: fd is ours and not yet handed to pnet.
        unsafe { libc::close(fd) };
        return Err(SniffError::Io("SO_ATTACH_FILTER", e));
    }
    let config = Config {
        // lo's MTU is 65536, and offloads hand the tap even larger (not yet segmented)
        // packets: a frame must fit whole.
        read_buffer_size: 256 * 1024,
        read_timeout: Some(poll),
        promiscuous: false,
        socket_fd: Some(fd),
        ..Default::default()
    };
    // pnet owns `fd` from here on (it closes it on error and on drop).
    match pnet_datalink::channel(iface, config) {
        Ok(Channel::Ethernet(_tx, rx)) => Ok(rx),
        Ok(_) => Err(SniffError::Io(
            "datalink channel",
            io::Error::other("unexpected channel type"),
        )),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Err(SniffError::NotPermitted),
        Err(e) => Err(SniffError::Io("binding the packet socket", e)),
    }
}
