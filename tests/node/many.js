// Many official socket.io-client v4 clients at once against one server.
// Usage: node many.js URL N [options as JSON]
//   options: transports (default ["websocket"]), inFlight (connections being set up at
//   once, default 200), upgrade (wait for each client's upgrade to WebSocket before its
//   emit), timeout (ms, default 60000).
// Every client connects (Socket.IO CONNECT to "/"), then emits "hello" with its number
// and an acknowledgement; the ack must carry the number back. When every client is
// acked (all held open at once) it prints "acked A of N, upgraded U", closes them all
// and prints "done"; a failure prints "failed ..." and exits 1.
const { io } = require("socket.io-client");

const [url, nText, optsJson] = process.argv.slice(2);
const n = Number(nText);
const opts = optsJson ? JSON.parse(optsJson) : {};
const inFlight = opts.inFlight || 200;
const sockets = [];
let started = 0, settingUp = 0, acked = 0, upgraded = 0, failed = 0;

const timer = setTimeout(() => {
  console.log(`failed: timeout with ${acked} of ${n} acked, ${upgraded} upgraded, ${failed} failed`);
  process.exit(1);
}, opts.timeout || 60000);

function fail(k, why) {
  failed += 1;
  if (failed <= 5) console.log(`failed: client ${k}: ${why}`);
  settled();
}

function settled() {
  settingUp -= 1;
  if (acked + failed === n) {
    clearTimeout(timer);
    console.log(`acked ${acked} of ${n}, upgraded ${upgraded}`);
    for (const s of sockets) s.close();
    console.log("done");
    setTimeout(() => process.exit(failed ? 1 : 0), 100);
    return;
  }
  more();
}

function emit(k, socket) {
  socket.timeout(20000).emit("hello", k, (err, reply) => {
    if (err) return fail(k, "no ack: " + err.message);
    if (reply !== k) return fail(k, "wrong ack " + JSON.stringify(reply));
    acked += 1;
    settled();
  });
}

function start(k) {
  settingUp += 1;
  const socket = io(url, {
    transports: opts.transports || ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  sockets.push(socket);
  socket.on("connect_error", (e) => fail(k, "connect_error " + e.message));
  socket.on("disconnect", (reason) => {
    if (acked + failed < n) console.log(`disconnect: client ${k}: ${reason}`);
  });
  socket.on("connect", () => {
    const engine = socket.io.engine;
    if (opts.upgrade && engine.transport.name !== "websocket") {
      engine.once("upgrade", () => {
        upgraded += 1;
        emit(k, socket);
      });
    } else {
      if (engine.transport.name === "websocket" && opts.upgrade) upgraded += 1;
      emit(k, socket);
    }
  });
}

function more() {
  while (started < n && settingUp < inFlight) start(started++);
}
more();
