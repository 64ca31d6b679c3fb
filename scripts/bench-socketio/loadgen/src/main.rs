//! Load generator for `scripts/bench-socketio.sh` (a benchmark tool, not part of netlab).
//!
//! It speaks just enough Engine.IO v4 / Socket.IO v5 over WebSocket (the transport a
//! `socket.io-client` with `transports: ['websocket']` uses) to be the same client for
//! every server: open `ws://HOST/socket.io/?EIO=4&transport=websocket`, read the open
//! packet `0{…}`, send `40` (CONNECT to `/`), wait for `40{"sid":…}`, answer each ping
//! `2` with a pong `3`, and count the `42["chat",…]` events that arrive.
//!
//!   loadgen connect URL N
//!       Opens N clients (64 handshakes in flight) and times until every one has its
//!       Socket.IO CONNECT answered. Prints `connect_ms=… per_s=… failed=…`.
//!   loadgen broadcast URL N SENDERS SECS WINDOW
//!       N receivers and SENDERS senders join `/`; each sender emits
//!       `chat` events as fast as the server absorbs them, keeping at most WINDOW of its
//!       messages not yet delivered to every receiver (the server broadcasts each to the
//!       other clients). After 1 s of warm-up, deliveries at the N receivers are counted
//!       for SECS s. Then the senders stop and the receivers get up to 10 s to drain,
//!       which checks that nothing was lost. Prints `msgs_per_s=… deliveries_per_s=…
//!       sent=… delivered=… expected=… errors=…`.
//!
//!   loadgen hold URL N SECS
//!       The "10,000 clients" load: N clients open and CONNECT (64 handshakes
//!       in flight), then every client emits `hello` asking for an acknowledgement, all
//!       at once, and waits for it; then all are held for SECS s answering the server's
//!       pings (with the default pingInterval of 25 s, SECS ≥ 30 sees one heartbeat
//!       each). Prints `joined=… failed=… connect_ms=… acked=… ack_ms=… acks_per_s=…
//!       pings=… alive=…` (alive: clients still connected at the end).
//!
//! URL is the server's base, e.g. `ws://127.0.0.1:3000`. Every wait is bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Tx = SplitSink<Ws, Message>;
type Rx = SplitStream<Ws>;
type Res<T> = Result<T, String>;

const STEP: Duration = Duration::from_secs(10);

/// Opens a WebSocket and joins namespace `/`.
async fn join(base: &str) -> Res<Ws> {
    let url = format!("{base}/socket.io/?EIO=4&transport=websocket");
    let mut ws = match timeout(STEP, connect_async_with_config(&url, None, true)).await {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => return Err(format!("connect: {e}")),
        Err(_) => return Err("connect: timed out".into()),
    };
    let mut opened = false;
    loop {
        let msg = match timeout(STEP, ws.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Err(format!("handshake: {e}")),
            Ok(None) => return Err("handshake: connection ended".into()),
            Err(_) => return Err("handshake: timed out".into()),
        };
        let Message::Text(t) = msg else { continue };
        let t = t.as_str();
        if !opened {
            if !t.starts_with('0') {
                return Err(format!("expected the Engine.IO open packet, got {t:?}"));
            }
            opened = true;
            ws.send(Message::text("40"))
                .await
                .map_err(|e| format!("send: {e}"))?;
        } else if t.starts_with("40") {
            return Ok(ws);
        } else if t.starts_with("44") {
            return Err(format!("connect_error: {t}"));
        } else if t == "2" {
            ws.send(Message::text("3"))
                .await
                .map_err(|e| format!("send: {e}"))?;
        }
    }
}

/// Joins `n` clients, 64 handshakes in flight. Returns the clients and the failures.
async fn join_many(base: &str, n: usize) -> (Vec<Ws>, usize) {
    let gate = Arc::new(Semaphore::new(64));
    let failed = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (gate, base, failed) = (Arc::clone(&gate), base.to_string(), Arc::clone(&failed));
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.ok()?;
                match join(&base).await {
                    Ok(ws) => Some(ws),
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("loadgen: {e}");
                        }
                        None
                    }
                }
            })
        })
        .collect();
    let mut held = Vec::new();
    for t in tasks {
        if let Ok(Some(ws)) = t.await {
            held.push(ws);
        }
    }
    (held, failed.load(Ordering::Relaxed))
}

async fn connect(base: String, n: usize) -> Res<()> {
    let start = Instant::now();
    let (held, failed) = join_many(&base, n).await;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let per_s = held.len() as f64 / (ms / 1000.0);
    println!(
        "connect_ms={ms:.1} per_s={per_s:.0} joined={} failed={failed}",
        held.len()
    );
    close_all(held).await;
    Ok(())
}

async fn close_all(held: Vec<Ws>) {
    let closes = held.into_iter().map(|mut ws| {
        tokio::spawn(async move {
            let _ = timeout(Duration::from_secs(2), ws.close(None)).await;
        })
    });
    for c in closes.collect::<Vec<_>>() {
        let _ = c.await;
    }
}

/// Reads a client's messages until `stop`: answers pings, counts chat events into
/// `delivered` (if given). Returns an error text if the connection broke.
async fn read_loop(
    mut rx: Rx,
    tx: Arc<Mutex<Tx>>,
    delivered: Option<Arc<AtomicU64>>,
    stop: Arc<AtomicBool>,
) -> Option<String> {
    while !stop.load(Ordering::Relaxed) {
        let msg = match timeout(Duration::from_millis(200), rx.next()).await {
            Err(_) => continue,
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(e))) => return Some(format!("receive: {e}")),
            Ok(None) => return Some("connection ended".into()),
        };
        let Message::Text(t) = msg else { continue };
        let t = t.as_str();
        if t.starts_with("42") {
            if let Some(d) = &delivered {
                d.fetch_add(1, Ordering::Relaxed);
            }
        } else if t == "2" {
            let _ = tx.lock().await.send(Message::text("3")).await;
        }
    }
    None
}

async fn broadcast(base: String, n: usize, senders: usize, secs: f64, window: u64) -> Res<()> {
    let (receivers, failed) = join_many(&base, n).await;
    if failed > 0 || receivers.len() < n {
        return Err(format!("only {} of {n} receivers joined", receivers.len()));
    }
    let (sender_ws, failed) = join_many(&base, senders).await;
    if failed > 0 {
        return Err(format!("{failed} senders could not join"));
    }
    let delivered = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let stop_send = Arc::new(AtomicBool::new(false));
    let stop_read = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for ws in receivers {
        let (tx, rx) = ws.split();
        let tx = Arc::new(Mutex::new(tx));
        readers.push(tokio::spawn(read_loop(
            rx,
            tx,
            Some(Arc::clone(&delivered)),
            Arc::clone(&stop_read),
        )));
    }
    let n64 = n as u64;
    let mut writers = Vec::new();
    for (id, ws) in sender_ws.into_iter().enumerate() {
        let (tx, rx) = ws.split();
        let tx = Arc::new(Mutex::new(tx));
        // What the other senders broadcast arrives here too: drain it (and pong).
        readers.push(tokio::spawn(read_loop(
            rx,
            Arc::clone(&tx),
            None,
            Arc::clone(&stop_read),
        )));
        let (delivered, sent, stop) = (
            Arc::clone(&delivered),
            Arc::clone(&sent),
            Arc::clone(&stop_send),
        );
        let total_window = window * senders as u64 * n64;
        writers.push(tokio::spawn(async move {
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Bounded window, counted in deliveries over all senders: never more
                // than WINDOW messages per sender still on their way to a receiver.
                let outstanding = sent.load(Ordering::Relaxed) * n64
                    - delivered
                        .load(Ordering::Relaxed)
                        .min(sent.load(Ordering::Relaxed) * n64);
                if outstanding >= total_window {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                seq += 1;
                let text = format!("42[\"chat\",\"s{id} #{seq} hello everyone\"]");
                sent.fetch_add(1, Ordering::Relaxed);
                let r = tx.lock().await.send(Message::text(text)).await;
                if let Err(e) = r {
                    return Some(format!("send: {e}"));
                }
            }
            None
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let d0 = delivered.load(Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let d1 = delivered.load(Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    stop_send.store(true, Ordering::Relaxed);
    let mut errors = 0;
    for w in writers {
        if let Ok(Some(e)) = w.await {
            errors += 1;
            eprintln!("loadgen: sender: {e}");
        }
    }
    // Drain: everything sent should reach every receiver.
    let expected = sent.load(Ordering::Relaxed) * n64;
    let drain_until = Instant::now() + Duration::from_secs(10);
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_read.store(true, Ordering::Relaxed);
    for r in readers {
        if let Ok(Some(e)) = r.await {
            errors += 1;
            if errors < 5 {
                eprintln!("loadgen: receiver: {e}");
            }
        }
    }
    let deliveries = (d1 - d0) as f64 / elapsed;
    println!(
        "msgs_per_s={:.0} deliveries_per_s={deliveries:.0} sent={} delivered={} expected={expected} errors={errors}",
        deliveries / n as f64,
        sent.load(Ordering::Relaxed),
        delivered.load(Ordering::Relaxed),
    );
    Ok(())
}

/// One held client: emits `hello` with an ack once `go` opens, then answers pings
/// until `stop`. Counts its ack and pings; returns whether it is still connected.
async fn held_client(
    ws: Ws,
    k: usize,
    go: tokio::sync::watch::Receiver<bool>,
    acked: Arc<AtomicUsize>,
    pings: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> bool {
    let (mut tx, mut rx) = ws.split();
    let mut go = go;
    if go.wait_for(|g| *g).await.is_err() {
        return false;
    }
    if tx
        .send(Message::text(format!("420[\"hello\",{k}]")))
        .await
        .is_err()
    {
        return false;
    }
    while !stop.load(Ordering::Relaxed) {
        let msg = match timeout(Duration::from_millis(200), rx.next()).await {
            Err(_) => continue,
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(_))) | Ok(None) => return false,
        };
        let Message::Text(t) = msg else { continue };
        let t = t.as_str();
        if t.starts_with("430") {
            if t == format!("430[{k}]") {
                acked.fetch_add(1, Ordering::Relaxed);
            } else {
                eprintln!("loadgen: client {k}: unexpected ack {t}");
            }
        } else if t == "2" {
            pings.fetch_add(1, Ordering::Relaxed);
            if tx.send(Message::text("3")).await.is_err() {
                return false;
            }
        }
    }
    true
}

async fn hold(base: String, n: usize, secs: f64) -> Res<()> {
    let start = Instant::now();
    let (held, failed) = join_many(&base, n).await;
    let connect_ms = start.elapsed().as_secs_f64() * 1000.0;
    let joined = held.len();
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let acked = Arc::new(AtomicUsize::new(0));
    let pings = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = held
        .into_iter()
        .enumerate()
        .map(|(k, ws)| {
            tokio::spawn(held_client(
                ws,
                k,
                go_rx.clone(),
                Arc::clone(&acked),
                Arc::clone(&pings),
                Arc::clone(&stop),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    let _ = go_tx.send(true);
    let ack_until = t0 + Duration::from_secs(60);
    while acked.load(Ordering::Relaxed) < joined && Instant::now() < ack_until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ack_s = t0.elapsed().as_secs_f64();
    let got = acked.load(Ordering::Relaxed);
    eprintln!(
        "loadgen: {got} of {joined} acks in {:.0} ms; holding {secs} s",
        ack_s * 1000.0
    );
    // Say so on stdout too, so that the caller can sample the server while held.
    println!("held joined={joined}");
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut alive = 0;
    for c in clients {
        if let Ok(true) = c.await {
            alive += 1;
        }
    }
    println!(
        "joined={joined} failed={failed} connect_ms={connect_ms:.0} acked={got} ack_ms={:.0} acks_per_s={:.0} pings={} alive={alive}",
        ack_s * 1000.0,
        got as f64 / ack_s,
        pings.load(Ordering::Relaxed),
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize| arg(i).parse::<f64>().unwrap_or(0.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = match arg(1).as_str() {
        "connect" => rt.block_on(connect(arg(2), num(3) as usize)),
        "broadcast" => rt.block_on(broadcast(
            arg(2),
            num(3) as usize,
            num(4) as usize,
            num(5),
            num(6) as u64,
        )),
        "hold" => rt.block_on(hold(arg(2), num(3) as usize, num(4))),
        _ => Err(
            "usage: loadgen connect URL N | loadgen broadcast URL N SENDERS SECS WINDOW | loadgen hold URL N SECS".into(),
        ),
    };
    rt.shutdown_timeout(Duration::from_secs(2));
    if let Err(e) = result {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}
