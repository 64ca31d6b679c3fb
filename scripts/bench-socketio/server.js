// The official Socket.IO v4 server with the chat semantics of `netlab socketio serve`'s
// default demo, for scripts/bench-socketio.sh: every `chat` event is broadcast to the
// other clients of its namespace; an event that asks for an acknowledgement gets its
// own arguments back (`chat`, and `hello`, which the hold test emits). Every namespace
// is accepted.
//
//   node server.js PORT
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 3000);
const io = new Server({
  // The defaults, spelled out: both transports, no compression.
  transports: ["polling", "websocket"],
  perMessageDeflate: false,
  maxHttpBufferSize: 1e6,
});

function chat(socket) {
  socket.on("chat", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    socket.broadcast.emit("chat", ...args);
    if (ack) ack(...args);
  });
  socket.on("hello", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
  });
}

io.on("connection", chat);
io.of(/.*/).on("connection", chat);

// Loopback only.
const http = require("http").createServer();
io.attach(http);
http.listen(port, "127.0.0.1", () => console.log(`node socket.io ${require("socket.io/package.json").version} listening on 127.0.0.1:${port}`));
