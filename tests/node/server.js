// The official socket.io v4 server, with the same demo as `netlab socketio serve`:
// `chat` goes to the namespace's other sockets, an event asking for an ack is acked with
// its own arguments, `bye` disconnects the socket; every socket gets a `welcome` event.
// Usage: node server.js [options as JSON]  (auth token, ping timers)
// Prints "listening PORT" (a free loopback port), then one line per observation.
const { Server } = require("socket.io");
const http = require("http");

const opts = process.argv[2] ? JSON.parse(process.argv[2]) : {};
const say = (...parts) => console.log(parts.join(" "));
const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: opts.pingInterval || 25000,
  pingTimeout: opts.pingTimeout || 20000,
  maxHttpBufferSize: opts.maxPayload || 1e6,
});

const show = (args) => JSON.stringify(args.map((a) => (Buffer.isBuffer(a) ? "<Buffer " + a.toString("hex") + ">" : a)));

function setup(nsps) {
nsps.use((socket, next) => {
  if (opts.token && (socket.handshake.auth || {}).token !== opts.token) {
    return next(new Error("invalid token"));
  }
  next();
});
nsps.on("connection", (socket) => {
  say("connect", socket.nsp.name, socket.conn.transport.name, JSON.stringify(socket.handshake.auth));
  socket.emit("welcome", { id: socket.id });
  socket.onAny((event, ...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    say("event", socket.nsp.name, event, show(args), cb ? "ack" : "noack");
    if (event === "chat") socket.broadcast.emit("chat", ...args);
    if (cb) cb(...args);
    if (event === "bye") socket.disconnect(true);
  });
  socket.on("disconnect", (reason) => say("disconnect", socket.nsp.name, reason));
});
}
// The main namespace "/" and every other one.
setup(io.of("/"));
setup(io.of(/^\/.+$/));

httpServer.listen(0, "127.0.0.1", () => say("listening", httpServer.address().port));
