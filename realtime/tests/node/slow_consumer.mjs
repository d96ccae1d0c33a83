// A socket.io-client (the official one, WebSocket transport) that can stop reading its socket,
// driven by realtime/tests/test_slow_consumers.py over stdin/stdout (one JSON object a line).
//
// It keeps the last position it saw per room and sends it in `auth.last_seen` whenever it
// (re)connects, as an application following seed 002's rooms does; every `test_event` it gets
// is recorded as received, duplicates included, so the test can say "exactly once, in order".
//
//   stdin  "pause"          stop reading the TCP socket (the kernel's buffers fill, then the server's)
//          "resume"         read again
//          "report"         print what was received so far
//   stdout {"connected": n} after the n-th `connected` (the first, then one per reconnection)
//          {"paused": true} / {"resumed": true}
//          {"disconnect": reason, "code": closeCode, "reason": closeReason}
//          {"report": {...}}
import { createRequire } from "node:module";
import readline from "node:readline";

const require = createRequire(import.meta.url);
const { io } = require("socket.io-client");
const { SERVER_URL, TOKEN } = process.env;

const positions = {}; // room -> {seq, epoch}
const received = []; // [room, seq, n] of each test_event, as it came
const resyncs = [];
let connected = 0;

const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const socket = io(SERVER_URL, {
  transports: ["websocket"],
  reconnectionDelay: 200,
  reconnectionDelayMax: 1000,
  auth: (cb) => cb({ token: TOKEN, last_seen: { ...positions } }),
});

socket.on("connected", (data) => {
  for (const [room, pos] of Object.entries(data.positions || {})) {
    if (!(room in positions)) positions[room] = pos;
  }
  connected += 1;
  out({ connected });
});
socket.on("test_event", (data) => {
  const meta = data._meta;
  received.push([meta.room, meta.seq, data.n]);
  positions[meta.room] = { seq: meta.seq, epoch: meta.epoch };
});
socket.on("resync_required", (data) => resyncs.push(data));
socket.on("disconnect", (reason, details) => {
  const ctx = details && details.context;
  out({ disconnect: reason, code: ctx && ctx.code, reason: ctx && ctx.reason && String(ctx.reason) });
});

function tcp() {
  return socket.io.engine.transport.ws._socket; // ws's net.Socket
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const command = line.trim();
  if (command === "pause") {
    tcp().pause();
    out({ paused: true });
  } else if (command === "resume") {
    tcp().resume();
    out({ resumed: true });
  } else if (command === "report") {
    out({ report: { received, resyncs, connected } });
  } else if (command === "exit") {
    socket.close();
    process.exit(0);
  }
});
