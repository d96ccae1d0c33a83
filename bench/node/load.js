// The one load client for every stack (socket.io-client from the npm registry).
// Opens N WebSocket connections, waits until each is in the room, prints {"ready": n}, then
// reads rounds from stdin: a line with the number of events each client should get; it prints
// {"started"}, counts deliveries of EVENT, and prints one JSON result line when every client has
// them or QUIET ms passed without a delivery. Exits when stdin closes.
//   node load.js --url http://127.0.0.1:8000 --path /socket.io/ --clients 100
//        [--token JWT] [--event bench] [--ready-event ready] [--idle] [--concurrency 200]
//        [--quiet 5000] [--first-timeout 60000]
// --idle: connect, report how many are held, keep them open until stdin closes.
"use strict";
const { io } = require("socket.io-client");

// Wire counters, per round (what the load client is given to parse): TCP reads (chunks the
// socket hands to ws), bytes, WebSocket data messages and control frames. ws is the copy that
// engine.io-client loads; wrapping costs one function call per read and per frame.
const wire = { reads: 0, bytes: 0, messages: 0, controls: 0 };
{
  const wsPath = require.resolve("ws", { paths: [require.resolve("engine.io-client")] });
  const Receiver = require(require("path").join(require("path").dirname(wsPath), "lib", "receiver.js"));
  const { _write, dataMessage, controlMessage } = Receiver.prototype;
  Receiver.prototype._write = function (chunk, encoding, cb) {
    wire.reads++; wire.bytes += chunk.length;
    return _write.call(this, chunk, encoding, cb);
  };
  Receiver.prototype.dataMessage = function (cb) { wire.messages++; return dataMessage.call(this, cb); };
  Receiver.prototype.controlMessage = function (data, cb) { wire.controls++; return controlMessage.call(this, data, cb); };
}

const args = { url: "", path: "/socket.io/", clients: 100, expect: 0, token: "", event: "bench",
  readyEvent: "ready", idle: false, concurrency: 200, quiet: 5000, firstTimeout: 60000,
  connectTimeout: 120000 };
for (let i = 2; i < process.argv.length; i++) {
  const key = process.argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  if (key === "idle") args.idle = true;
  else args[key] = typeof args[key] === "number" ? Number(process.argv[++i]) : process.argv[++i];
}
const now = () => performance.timeOrigin + performance.now();
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const sockets = [];
let ready = 0, welcomed = 0, failed = 0, delivered = 0, lastDelivery = 0, firstSent = Infinity, firstDelivery = 0;
const latencies = [];
const perClient = [];

function open(index) {
  return new Promise((resolve) => {
    const socket = io(args.url, {
      path: args.path, transports: ["websocket"], reconnection: false, forceNew: true,
      auth: args.token ? { token: args.token } : {}, timeout: 60000,
    });
    sockets.push(socket);
    perClient[index] = 0;
    let settled = false;
    const settle = (ok) => { if (!settled) { settled = true; ok ? ready++ : failed++; resolve(); } };
    // Connected = Socket.IO CONNECT acknowledged; `welcomed` counts those that also got the
    // stack's greeting (ours: `connected`, sent once the user/tenant rooms are joined).
    socket.once("connect", () => settle(true));
    socket.once(args.readyEvent, () => welcomed++);
    socket.once("connect_error", () => settle(false));
    socket.on(args.event, (data) => {
      const t = now();
      const sent = typeof data.t === "number" ? data.t : parseFloat(data.text);
      latencies.push(t - sent);
      if (sent < firstSent) firstSent = sent;
      if (!firstDelivery) firstDelivery = t;
      delivered++; lastDelivery = t; perClient[index]++;
    });
  });
}

async function connectAll() {
  let next = 0;
  const started = now();
  const workers = Array.from({ length: Math.min(args.concurrency, args.clients) }, async () => {
    while (next < args.clients) await open(next++);
  });
  await Promise.race([Promise.all(workers), new Promise((r) => setTimeout(r, args.connectTimeout))]);
  return now() - started;
}

function pct(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.round((p / 100) * (sorted.length - 1)))];
}

async function main() {
  const connectMs = await connectAll();
  const graceEnd = now() + 10000;
  while (welcomed < ready && now() < graceEnd) await new Promise((r) => setTimeout(r, 20));
  out({ ready, welcomed, failed, connect_ms: Math.round(connectMs) });
  if (args.idle) {
    process.stdin.resume();
    process.stdin.on("end", () => process.exit(0));
    setInterval(() => {
      const held = sockets.filter((s) => s.connected).length;
      out({ held });
    }, 2000);
    return;
  }
  // Rounds: each stdin line "EXPECT" starts one (the harness then runs an emitter); one result line each.
  const lines = require("readline").createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    await round(Number(line.trim()) * ready, ready);
  }
  for (const s of sockets) s.close();
  process.exit(0);
}

async function round(target, clients) {
  delivered = 0; lastDelivery = 0; firstSent = Infinity; firstDelivery = 0; latencies.length = 0; perClient.fill(0);
  for (const k of Object.keys(wire)) wire[k] = 0;
  const cpuStart = process.cpuUsage();
  const startWait = now();
  out({ started: true });
  await new Promise((resolve) => {
    const check = setInterval(() => {
      // QUIET ms without a delivery ends a round, once deliveries started; before the first one
      // the emitter may still be starting (a Python process on a busy machine): FIRST_TIMEOUT.
      const quietFor = now() - (lastDelivery || startWait);
      if (delivered >= target || quietFor > (lastDelivery ? args.quiet : args.firstTimeout)) {
        clearInterval(check); resolve();
      }
    }, 5);
  });
  latencies.sort((a, b) => a - b);
  const span = lastDelivery - firstSent;
  // The delivery phase alone: from the first delivery to the last (the emitter's start-up and the
  // first event's trip through Redis left out), counted from the second delivery on.
  const deliverySpan = lastDelivery - firstDelivery;
  out({
    done: true, clients, welcomed, expected: target, delivered,
    span_ms: span, rate: delivered && span > 0 ? (delivered * 1000) / span : 0,
    delivery_span_ms: deliverySpan,
    delivery_rate: delivered > 1 && deliverySpan > 0 ? ((delivered - 1) * 1000) / deliverySpan : 0,
    p50: pct(latencies, 50), p99: pct(latencies, 99), p999: pct(latencies, 99.9), max: pct(latencies, 100),
    min_per_client: perClient.length ? Math.min(...perClient) : 0,
    max_per_client: perClient.length ? Math.max(...perClient) : 0,
    receiving_clients: perClient.filter((n) => n > 0).length,
    wire: { ...wire }, cpu_ms: ((cpu) => (cpu.user + cpu.system) / 1000)(process.cpuUsage(cpuStart)),
  });
}

main().catch((err) => { console.error(err); process.exit(1); });
