//! The reference echo server of `scripts/bench-ws.sh` (a benchmark tool, not part of
//! netlab): tokio-tungstenite's own echo example, as its README shows it — each
//! connection's stream of messages forwarded into its sink — on tokio's multi-thread
//! runtime (one worker per core, as netlab runs one event loop per core), with
//! `TCP_NODELAY` as netlab sets it.
//!
//!   tungstenite-echo ADDR
//!
//! Only text and binary messages are echoed (pings are answered by tungstenite
//! itself; a close ends the forward).

use futures_util::{StreamExt, TryStreamExt, future};
use tokio::net::{TcpListener, TcpStream};

async fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (write, read) = ws.split();
    let _ = read
        .try_filter(|m| future::ready(m.is_text() || m.is_binary()))
        .forward(write)
        .await;
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18800".into());
    let listener = match TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tungstenite-echo: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream));
            }
            // Out of descriptors, say: wait a little rather than spin.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}
