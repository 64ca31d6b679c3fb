// Real Socket.IO peers for scripts/make-app-captures.sh: the official npm `socket.io`
// server and `socket.io-client` (the versions pinned by tests/node/package-lock.json),
// each logging every Engine.IO packet it sends or receives, on every transport (the
// upgrade probes and noops too), and every Socket.IO event (onAny / onAnyOutgoing).
//
//   node socketio-peer.js server ADDR PORT OUT.json        (until SIGINT, then writes OUT)
//   node socketio-peer.js clients ADDR PORT ws|polling OUT.json
//   node socketio-peer.js merge PCAP PORT MODE SERVER.json CLIENTS.json  > LOG.json
//
// The packet hooks wrap the transports' send() and onPacket() (engine.io 6 and
// engine.io-client 6 internals, here only for logging; the traffic is unchanged). The
// merge step decodes the Socket.IO packets carried by the logged Engine.IO messages with
// socket.io-parser's Decoder (the same module, at the same version, that both peers use).
// ADDR/PORT are given by the script: an address of its own namespace.
"use strict";

const fs = require("fs");
const path = require("path");
const { performance } = require("perf_hooks");

const now = () => performance.timeOrigin + performance.now(); // ms since the epoch
const TYPES = ["open", "close", "ping", "pong", "message", "upgrade", "noop"];

// An Engine.IO packet as logged: type number and name, data as text or base64.
function enginePacket(p) {
  const out = { type: TYPES.indexOf(p.type), name: p.type };
  if (p.data === undefined) return out;
  if (typeof p.data === "string") out.data = p.data;
  else out.binary_base64 = Buffer.from(p.data).toString("base64");
  return out;
}

// JSON-safe copy of event arguments: Buffers become {"$binary": base64}.
function plain(v) {
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    return { $binary: Buffer.from(v).toString("base64") };
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}

function versions() {
  // by file path: the packages' "exports" maps do not all list package.json
  const v = (m) => JSON.parse(fs.readFileSync(path.join(modulesDir(), m, "package.json"))).version;
  return {
    node: process.version,
    "socket.io": v("socket.io"),
    "socket.io-client": v("socket.io-client"),
    "engine.io": v("engine.io"),
    "engine.io-client": v("engine.io-client"),
    "engine.io-parser": v("engine.io-parser"),
    "socket.io-parser": v("socket.io-parser"),
    ws: v("ws"),
  };
}

// The packages' "exports" maps hide their internals; by absolute file path node loads the
// very same module instances the libraries use.
const modulesDir = () => path.resolve(require.resolve("socket.io"), "../../..");
const internal = (pkg, file) => require(path.join(path.dirname(require.resolve(pkg)), file));

// ---------------------------------------------------------------------------------------
// server
// ---------------------------------------------------------------------------------------
function server(addr, port, outFile, delayUpgradeMs) {
  const log = [];
  let batch = 0;
  const { Socket } = internal("engine.io", "socket.js");
  const { Transport } = internal("engine.io", "transport.js");
  const { Polling } = internal("engine.io", "transports/polling.js");
  const { WebSocket } = internal("engine.io", "transports/websocket.js");

  const tag = (socket, t) => {
    t.__sid = socket.id;
    t.__peer = (socket.request && socket.request._query && socket.request._query.peer) || null;
  };
  const origSet = Socket.prototype.setTransport;
  Socket.prototype.setTransport = function (t) {
    tag(this, t);
    return origSet.call(this, t);
  };
  const origUp = Socket.prototype._maybeUpgrade;
  Socket.prototype._maybeUpgrade = function (t) {
    tag(this, t);
    return origUp.call(this, t);
  };
  const port_of = (t, dir) => {
    if (t.name === "websocket") return (t.socket && t.socket._socket && t.socket._socket.remotePort) || null;
    const req = dir === "send" ? t.req : t.dataReq;
    return (req && req.socket && req.socket.remotePort) || null;
  };
  const entry = (t, dir, p, b, n) =>
    log.push({
      t: now(), peer: "server", remote: t.__peer, dir, sid: t.__sid || null, transport: t.name,
      tcp_client_port: port_of(t, dir), batch: b, batch_size: n, engineio: enginePacket(p),
    });
  for (const C of [Polling, WebSocket]) {
    const orig = C.prototype.send;
    C.prototype.send = function (packets) {
      const port0 = port_of(this, "send"); // before the write releases the request
      const r = orig.call(this, packets);
      batch += 1;
      for (const p of packets) {
        entry(this, "send", p, batch, packets.length);
        log[log.length - 1].tcp_client_port = port0;
      }
      return r;
    };
  }
  const origOn = Transport.prototype.onPacket;
  Transport.prototype.onPacket = function (p) {
    entry(this, "recv", p, this.__batch || ++batch, null);
    return origOn.call(this, p);
  };
  // what one read delivered (an HTTP POST body may hold several packets): one batch
  for (const C of [Transport, Polling]) {
    const orig = C.prototype.onData;
    if (Object.prototype.hasOwnProperty.call(C.prototype, "onData")) {
      C.prototype.onData = function (data) {
        this.__batch = ++batch;
        try {
          return orig.call(this, data);
        } finally {
          this.__batch = null;
        }
      };
    }
  }

  const { Server } = require("socket.io");
  const http = require("http");
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    pingInterval: 1000, // a heartbeat (ping/pong) within the short session
    pingTimeout: 2000,
  });
  if (delayUpgradeMs > 0) {
    // polling capture: the HTTP server holds each WebSocket upgrade request a little
    // before engine.io sees it, so that the first messages travel over long-polling
    // (the client starts its upgrade probe right after the Engine.IO open)
    const upgrade = httpServer.listeners("upgrade");
    httpServer.removeAllListeners("upgrade");
    httpServer.on("upgrade", (...a) => setTimeout(() => upgrade.forEach((l) => l.apply(httpServer, a)), delayUpgradeMs));
  }
  const ev = (socket, dir, event, args) =>
    log.push({
      t: now(), peer: "server", remote: socket.handshake.query.peer || null, dir, kind: "event",
      sid: socket.conn.id, nsp: socket.nsp.name, socket_id: socket.id, event, args: plain(args),
    });
  const watch = (socket) => {
    socket.onAny((event, ...args) => ev(socket, "recv", event, args.filter((a) => typeof a !== "function")));
    socket.onAnyOutgoing((event, ...args) => ev(socket, "send", event, args.filter((a) => typeof a !== "function")));
  };

  io.of("/").on("connection", (socket) => {
    watch(socket);
    socket.emit("welcome", { nsp: "/", peer: socket.handshake.query.peer });
    socket.on("hello", () => {}); // no ack asked
    socket.on("sum", (a, b, ack) => ack(a + b));
    socket.on("upload", (file, ack) =>
      ack({ name: file.name, size: file.data.length, head: file.data.subarray(0, 4) }));
    socket.on("ask-me", async () => {
      const answer = await socket.timeout(2000).emitWithAck("question", "what layer is Socket.IO on?");
      socket.emit("thanks", answer);
    });
    socket.on("bye", () => socket.disconnect(true));
  });
  io.of("/chat").on("connection", (socket) => {
    watch(socket);
    socket.on("join", (room, ack) => {
      socket.join(room);
      ack({ joined: room });
    });
    socket.on("chat", (text) => socket.to("lobby").emit("chat", { from: socket.handshake.auth.name, text }));
  });
  httpServer.listen(Number(port), addr, () => console.log("listening", httpServer.address().port));
  process.on("SIGINT", () => {
    fs.writeFileSync(outFile, JSON.stringify(log));
    process.exit(0);
  });
}

// ---------------------------------------------------------------------------------------
// clients
// ---------------------------------------------------------------------------------------
async function clients(addr, port, mode, outFile) {
  setTimeout(() => {
    console.error("clients: timed out");
    process.exit(1);
  }, 30000);
  const log = [];
  let batch = 0;
  const { Transport } = internal("engine.io-client", "transport.js");
  const port_of = (t) => (t.ws && t.ws._socket && t.ws._socket.localPort) || null;
  const entry = (t, dir, p, b, n) =>
    log.push({
      t: now(), peer: (t.query && t.query.peer) || null, dir, sid: (t.socket && t.socket.id) || null,
      transport: t.name, tcp_client_port: port_of(t), batch: b, batch_size: n, engineio: enginePacket(p),
    });
  const origSend = Transport.prototype.send;
  Transport.prototype.send = function (packets) {
    const r = origSend.call(this, packets);
    batch += 1;
    for (const p of packets) entry(this, "send", p, batch, packets.length);
    return r;
  };
  const { Polling } = internal("engine.io-client", "transports/polling.js");
  const origOn = Transport.prototype.onPacket;
  Transport.prototype.onPacket = function (p) {
    entry(this, "recv", p, this.__batch || ++batch, null);
    return origOn.call(this, p);
  };
  for (const C of [Transport, Polling]) {
    const orig = C.prototype.onData;
    if (Object.prototype.hasOwnProperty.call(C.prototype, "onData")) {
      C.prototype.onData = function (data) {
        this.__batch = ++batch;
        try {
          return orig.call(this, data);
        } finally {
          this.__batch = null;
        }
      };
    }
  }

  const { Manager } = require("socket.io-client");
  const transports = mode === "ws" ? ["websocket"] : ["polling", "websocket"];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const once = (em, name) => new Promise((r) => em.once(name, r));
  const ev = (peer, socket, dir, event, args) =>
    log.push({
      t: now(), peer, dir, kind: "event", sid: socket.io.engine && socket.io.engine.id, nsp: socket.nsp,
      socket_id: socket.id, event, args: plain(args),
    });
  const watch = (peer, socket) => {
    socket.onAny((event, ...args) => ev(peer, socket, "recv", event, args.filter((a) => typeof a !== "function")));
    socket.onAnyOutgoing((event, ...args) => ev(peer, socket, "send", event, args.filter((a) => typeof a !== "function")));
  };
  const url = `http://${addr}:${port}`;
  const peer = async (name) => {
    const m = new Manager(url, { transports, query: { peer: name }, reconnection: false, autoConnect: false });
    const root = m.socket("/", { auth: { name } });
    watch(name, root);
    const welcome = once(root, "welcome");
    root.connect();
    await once(root, "connect");
    await welcome;
    return { m, root };
  };

  const alice = await peer("alice");
  // over long-polling (the upgrade is held back by the server): an event with an ack
  if (mode === "polling") {
    const r = await alice.root.emitWithAck("sum", 20, 22);
    if (r !== 42) throw new Error("sum ack " + r);
    if (alice.m.engine.transport.name !== "websocket") await once(alice.m.engine, "upgrade");
  }
  const bob = await peer("bob");
  if (mode === "polling" && bob.m.engine.transport.name !== "websocket") await once(bob.m.engine, "upgrade");

  alice.root.emit("hello", "world", { layer: 7 }); // no ack
  const sum = await alice.root.emitWithAck("sum", 1, 2); // ack id, ACK packet
  if (sum !== 3) throw new Error("sum ack " + sum);
  alice.root.on("question", (q, ack) => ack("the application layer, above WebSocket"));
  const thanks = once(alice.root, "thanks");
  alice.root.emit("ask-me"); // the server asks back with an ack of its own
  await thanks;
  // a binary attachment (BINARY_EVENT) and a binary ack (BINARY_ACK)
  const bytes = Buffer.from([...Array(16).keys()].map((i) => i * 17));
  const up = await alice.root.emitWithAck("upload", { name: "bytes.bin", data: bytes });
  if (up.size !== 16) throw new Error("upload ack " + JSON.stringify(up));

  // the /chat namespace on the same connection, a room, a broadcast to it
  const aChat = alice.m.socket("/chat", { auth: { name: "alice" } });
  const bChat = bob.m.socket("/chat", { auth: { name: "bob" } });
  watch("alice", aChat);
  watch("bob", bChat);
  aChat.connect();
  bChat.connect();
  await Promise.all([once(aChat, "connect"), once(bChat, "connect")]);
  await aChat.emitWithAck("join", "lobby");
  await bChat.emitWithAck("join", "lobby");
  const got = once(bChat, "chat");
  aChat.emit("chat", "hi bob, this went through the lobby room");
  await got;

  await sleep(1300); // long enough for one heartbeat (pingInterval 1000 ms)
  aChat.disconnect(); // DISCONNECT for /chat only
  await sleep(100);
  const bobGone = once(bob.root, "disconnect");
  bob.root.emit("bye"); // the server disconnects bob
  await bobGone;
  bChat.disconnect();
  alice.root.disconnect(); // DISCONNECT for /, then the Engine.IO close
  await sleep(300);
  fs.writeFileSync(outFile, JSON.stringify(log));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------
// merge: both logs in one file, Socket.IO packets decoded with socket.io-parser
// ---------------------------------------------------------------------------------------
function merge(pcap, port, mode, serverFile, clientsFile) {
  const { Decoder } = require("socket.io-parser");
  const SIO = ["CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"];
  const all = [...JSON.parse(fs.readFileSync(serverFile)), ...JSON.parse(fs.readFileSync(clientsFile))];
  all.sort((a, b) => a.t - b.t);
  const decoders = new Map();
  const packets = [];
  const events = [];
  for (const e of all) {
    if (e.kind === "event") {
      const { kind, ...rest } = e;
      events.push(rest);
      continue;
    }
    packets.push(e);
    if (e.sid === null && e.engineio.name === "open") e.sid = JSON.parse(e.engineio.data).sid;
    if (e.engineio.name !== "message") continue;
    // one decoder per logging peer, Engine.IO session and direction
    const key = [e.peer === "server" ? "server" : "client", e.sid, e.dir].join(" ");
    if (!decoders.has(key)) {
      const d = new Decoder();
      d.on("decoded", (p) => {
        const cur = d.current;
        cur.socketio = {
          type: p.type, name: SIO[p.type], nsp: p.nsp,
          ...(p.id !== undefined ? { id: p.id } : {}),
          ...(p.data !== undefined ? { data: plain(p.data) } : {}),
          ...(d.attachments ? { attachments: d.attachments, attachment_packets: d.parts } : {}),
        };
      });
      decoders.set(key, d);
    }
    const d = decoders.get(key);
    d.current = e;
    if (e.engineio.data !== undefined) {
      const m = /^[56](\d+)-/.exec(e.engineio.data);
      d.attachments = m ? Number(m[1]) : 0;
      d.parts = [];
      if (m) e.socketio_waits_for_attachments = d.attachments;
      d.add(e.engineio.data);
    } else {
      d.parts.push(packets.length); // 1-based index of this attachment in "packets"
      d.add(Buffer.from(e.engineio.binary_base64, "base64"));
    }
  }
  packets.forEach((p, i) => (p.index = i + 1));
  const sizes = new Map();
  const bkey = (p) => (p.peer === "server" ? "server" : "client") + " " + p.batch;
  for (const p of packets) sizes.set(bkey(p), (sizes.get(bkey(p)) || 0) + 1);
  for (const p of packets) p.batch_size = sizes.get(bkey(p));
  const out = {
    capture: pcap,
    made_by: `scripts/make-app-captures.sh socketio-${mode}`,
    server: "10.99.0.2",
    port: Number(port),
    decode_as: `tcp.port==${port},http`,
    mode: mode === "ws" ? "websocket only" : "long-polling, then upgrade to websocket",
    versions: versions(),
    format:
      "packets: every Engine.IO packet each peer sent or received, both ends (peer 'server' " +
      "or the client's name), in time order (t: ms since the epoch, one clock). engineio: " +
      "{type 0-6, name, data (text) | binary_base64}. batch/batch_size: packets written or " +
      "read together by one peer (one HTTP long-polling body, joined by \\x1e; one WebSocket frame " +
      "each), numbered per side (server / clients). " +
      "tcp_client_port: the client's TCP port (null where the library does not expose it: " +
      "client-side polling). socketio: the Socket.IO packet this Engine.IO message completes, " +
      "decoded by socket.io-parser {type 0-6, name, nsp, id (ack id), data (event name and " +
      "args), attachments}; a BINARY_EVENT/BINARY_ACK is completed by its last attachment, " +
      "its header message has socketio_waits_for_attachments. Buffers are {\"$binary\": base64}. " +
      "events: the application-level events (onAny / onAnyOutgoing) of each peer.",
    packets,
    events,
  };
  process.stdout.write(JSON.stringify(out, null, 1) + "\n");
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === "server") server(args[0], args[1], args[2], Number(args[3] || 0));
else if (cmd === "clients")
  clients(args[0], args[1], args[2], args[3]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
else if (cmd === "merge") merge(...args);
else {
  console.error("usage: socketio-peer.js server|clients|merge ...");
  process.exit(2);
}
