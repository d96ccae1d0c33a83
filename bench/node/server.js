// Stack (c): Node Socket.IO v4 with @socket.io/redis-adapter (events come from
// @socket.io/redis-emitter in another process, see emitter.js). Every client joins room "bench".
// Usage: node server.js PORT REDIS_URL
"use strict";
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");

async function main() {
  const [port, redisUrl] = [Number(process.argv[2]), process.argv[3]];
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const io = new Server({ transports: ["websocket", "polling"], cors: { origin: false } });
  io.adapter(createAdapter(pub, sub));
  io.on("connection", (socket) => {
    socket.join("bench");
    socket.emit("ready", {});
  });
  io.listen(port);
  console.log(JSON.stringify({ listening: port }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
