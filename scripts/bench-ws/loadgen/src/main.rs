//! Load generator for `scripts/bench-ws.sh` (a benchmark tool, not part of netlab).
//!
//!   loadgen echo URL CONNS SIZE SECS
//!       CONNS connections each do ping-pong round-trips of SIZE-byte binary
//!       messages for SECS seconds. Prints `rt_per_s=… mb_per_s=… errors=…`
//!       (MB = 10^6 bytes, payload counted both ways).
//!   loadgen idle URL CONNS HOLD_SECS SAMPLE PID
//!       Opens up to CONNS connections (64 handshakes in flight), holds them
//!       idle for HOLD_SECS, reads VmRSS of PID, then checks that SAMPLE of
//!       them, evenly spread, still echo. Prints `held=… rss_kib=… echoed=…`.
//!
//! An echo may come back split into several messages (websocat's `mirror:`
//! does not keep message boundaries), so a round-trip ends once SIZE bytes
//! are back. Every wait is bounded, so the program always ends by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Res<T> = Result<T, String>;

const STEP: Duration = Duration::from_secs(10);

async fn open(url: &str) -> Res<Ws> {
    match timeout(STEP, connect_async_with_config(url, None, true)).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(format!("connect: {e}")),
        Err(_) => Err("connect: timed out".into()),
    }
}

/// Sends one message and waits until as many bytes have come back.
async fn round_trip(ws: &mut Ws, payload: &Bytes) -> Res<()> {
    ws.send(Message::Binary(payload.clone()))
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut got = 0;
    while got < payload.len() {
        match timeout(STEP, ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => got += b.len(),
            Ok(Some(Ok(Message::Text(t)))) => got += t.len(),
            Ok(Some(Ok(Message::Close(_)))) => return Err("closed by server".into()),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(format!("receive: {e}")),
            Ok(None) => return Err("connection ended".into()),
            Err(_) => return Err("echo timed out".into()),
        }
    }
    Ok(())
}

async fn close(mut ws: Ws) {
    let _ = timeout(Duration::from_secs(2), async {
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

async fn echo(url: String, conns: usize, size: usize, secs: f64) -> Res<()> {
    let mut sockets = Vec::new();
    for _ in 0..conns {
        sockets.push(open(&url).await?);
    }
    let payload = Bytes::from(vec![0x5a; size]);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|mut ws| {
            let payload = payload.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                let mut err = None;
                while Instant::now() < deadline {
                    match round_trip(&mut ws, &payload).await {
                        Ok(()) => n += 1,
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
                close(ws).await;
                (n, err)
            })
        })
        .collect();
    let mut total = 0u64;
    let mut errors = 0;
    let mut elapsed = 0f64;
    for t in tasks {
        let (n, err) = t.await.map_err(|e| e.to_string())?;
        total += n;
        if let Some(e) = err {
            errors += 1;
            eprintln!("loadgen: {e}");
        }
        elapsed = elapsed.max(start.elapsed().as_secs_f64().min(secs + 10.0));
    }
    let elapsed = elapsed.max(secs);
    let rt = total as f64 / elapsed;
    let mb = rt * size as f64 * 2.0 / 1e6;
    println!("rt_per_s={rt:.0} mb_per_s={mb:.2} errors={errors}");
    Ok(())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn idle(url: String, conns: usize, hold: f64, sample: usize, pid: u32) -> Res<()> {
    let gate = Arc::new(Semaphore::new(64));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let (gate, url, failed) = (Arc::clone(&gate), url.clone(), Arc::clone(&failed));
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.ok()?;
                // Once the server stops accepting (64 failures), stop trying.
                if failed.load(Ordering::Relaxed) >= 64 {
                    return None;
                }
                match open(&url).await {
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
    let connect_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs_f64(hold)).await;
    let rss = rss_kib(pid);
    let payload = Bytes::from_static(b"still-there?0123");
    let k = sample.min(held.len());
    let mut echoed = 0;
    for i in 0..k {
        let j = i * held.len() / k;
        match round_trip(&mut held[j], &payload).await {
            Ok(()) => echoed += 1,
            Err(e) => eprintln!("loadgen: sample {j}: {e}"),
        }
    }
    println!(
        "held={} failed={} rss_kib={rss} echoed={echoed}/{k} connect_s={connect_s:.1}",
        held.len(),
        failed.load(Ordering::Relaxed)
    );
    drop(held);
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
        "echo" => rt.block_on(echo(arg(2), num(3) as usize, num(4) as usize, num(5))),
        "idle" => rt.block_on(idle(arg(2), num(3) as usize, num(4), num(5) as usize, num(6) as u32)),
        _ => Err("usage: loadgen echo URL CONNS SIZE SECS | loadgen idle URL CONNS HOLD SAMPLE PID".into()),
    };
    rt.shutdown_timeout(Duration::from_secs(2));
    if let Err(e) = result {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}
