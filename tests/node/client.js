// The official socket.io-client v4 against a server given on the command line.
// Usage: node client.js URL SCENARIO [options as JSON]
// Prints one line per observation ("connect", "ack ...", "event ...", "connect_error ...",
// "disconnect ..."), then "done" and exits 0; exits 1 on a timeout.
const { io } = require("socket.io-client");

const [url, scenario, optsJson] = process.argv.slice(2);
const opts = optsJson ? JSON.parse(optsJson) : {};
const say = (...parts) => console.log(parts.join(" "));
const timer = setTimeout(() => { say("timeout"); process.exit(1); }, opts.timeout || 10000);
const finish = (socket) => {
  clearTimeout(timer);
  say("done");
  if (socket) socket.close();
  setTimeout(() => process.exit(0), 50);
};

// Emits with an acknowledgement; resolves with all the ack's arguments.
const ack = (event, ...args) => new Promise((resolve, reject) =>
  socket.timeout(5000).emit(event, ...args, (err, ...reply) => (err ? reject(err) : resolve(reply))));

const socket = io(url + (opts.namespace || ""), {
  transports: opts.transports || ["polling", "websocket"],
  auth: opts.auth,
  reconnection: false,
  forceNew: true,
});
socket.io.engine && socket.io.engine.on && socket.io.engine.on("upgrade", (t) => say("upgrade", t.name));
socket.on("connect_error", (e) => {
  say("connect_error", JSON.stringify(e.message));
  if (scenario === "refused") finish(null);
});
socket.on("disconnect", (reason) => {
  say("disconnect", reason);
  if (scenario === "server-disconnect" || scenario === "ping-timeout") finish(null);
});
socket.on("chat", (...args) => {
  say("chat", JSON.stringify(args));
  if (scenario === "chat-listen") finish(socket);
});

socket.on("connect", async () => {
  say("connect", socket.io.engine.transport.name);
  switch (scenario) {
    case "emit": {
      socket.emit("hello", "world", 42);
      const reply = await ack("hello", "world", { n: 1 });
      say("ack", JSON.stringify(reply));
      finish(socket);
      break;
    }
    case "upgrade": {
      // Wait for the upgrade to WebSocket, then an ack over it.
      const go = async () => {
        const reply = await ack("after-upgrade", 1);
        say("ack", JSON.stringify(reply), socket.io.engine.transport.name);
        finish(socket);
      };
      if (socket.io.engine.transport.name === "websocket") go();
      else socket.io.engine.once("upgrade", () => setTimeout(go, 10));
      break;
    }
    case "binary": {
      const buf = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);
      const reply = await ack("upload", "file.bin", buf);
      const back = reply[1];
      say("ack-binary", reply[0], Buffer.isBuffer(back) ? back.toString("hex") : typeof back);
      finish(socket);
      break;
    }
    case "chat-listen":
      say("ready");
      break;
    case "chat-send": {
      socket.emit("chat", opts.text || "hi");
      await ack("sync");
      finish(socket);
      break;
    }
    case "server-disconnect":
      socket.emit("bye");
      break;
    case "client-disconnect":
      await ack("ping-me");
      socket.disconnect();
      finish(null);
      break;
    case "ping-timeout":
      // Stop answering pings: the server must close the session. The transport's
      // packets are filtered before the engine sees them, and the client's own
      // watchdog (pingInterval + pingTimeout without a ping) is switched off.
      {
        const engine = socket.io.engine;
        const t = engine.transport;
        const orig = t.onPacket.bind(t);
        t.onPacket = (p) => { if (p.type !== "ping") orig(p); };
        engine.clearTimeoutFn(engine._pingTimeoutTimer);
        engine._resetPingTimeout = () => {};
      }
      say("ignoring pings");
      break;
    default:
      finish(socket);
  }
});
