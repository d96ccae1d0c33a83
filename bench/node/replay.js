// What a delivery costs the load client, without a real server: a stub Socket.IO server (a child
// process, its own core) accepts socket.io-client WebSocket connections, then writes the same
// prepared frames to each, and this process (the client, the other core) counts CPU per delivery.
// So frame contents and how many frames arrive per write can be compared with nothing else moving.
//   taskset -c 1 node replay.js [--clients 100] [--events 500] [--rounds 5] [--server-cpu 0]
// Prints one line per variant: client CPU us per delivery (median of rounds), bytes, reads.
"use strict";
const net = require("net");
const crypto = require("crypto");
const { spawn } = require("child_process");

function frame(text) {
  const payload = Buffer.from(text);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x81, n]) : Buffer.from([0x81, 126, n >> 8, n & 255]);
  return Buffer.concat([head, payload]);
}

// The event texts, as each stack's server puts them on the wire (seq/n vary per event).
const TS = "1764572645291.1235";
const VARIANTS = {
  node: (n) => `42["bench",{"n":${n},"text":"${TS}"}]`,
  ours: (n) => `42["test_event",{"n":${n},"text":"${TS}","_meta":{"room":"user:1","seq":${n + 1},"epoch":"3f9a0c1b2d4e"}}]`,
};
// Node's payload padded to our frame's length with one more string field: same bytes, no nesting.
VARIANTS["node-padded"] = (n) => {
  const base = VARIANTS.node(n);
  const pad = VARIANTS.ours(n).length - base.length - ',"pad":""'.length;
  return base.slice(0, -2) + `,"pad":"${"x".repeat(pad)}"}]`;
};
// Our fields flat, same bytes as ours: is it the nested object or the number of fields?
VARIANTS["ours-flat"] = (n) => {
  const base = `42["test_event",{"n":${n},"text":"${TS}","_room":"user:1","_seq":${n + 1},"_epoch":"3f9a0c1b2d4e"`;
  return base + `,"p":"${"x".repeat(VARIANTS.ours(n).length - base.length - 8)}"}]`;
};

function serve(events, perWrite) {
  const conns = [];
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    let buf = "";
    let upgraded = false;
    sock.on("data", (d) => {
      if (!upgraded) {
        buf += d.toString("latin1");
        if (!buf.includes("\r\n\r\n")) return;
        const key = /Sec-WebSocket-Key: *(.+)\r\n/i.exec(buf)[1].trim();
        const accept = crypto.createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
        sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        sock.write(frame(`0{"sid":"e${conns.length}","upgrades":[],"pingInterval":600000,"pingTimeout":600000,"maxPayload":1000000}`));
        upgraded = true;
        return;
      }
      if (!sock.connected) { sock.connected = true; sock.write(frame(`40{"sid":"s${conns.length}"}`)); conns.push(sock); }
    });
  });
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
  process.on("message", (m) => {
    // One round: every connection gets `events` frames of variant m.variant, `perWrite` per write().
    const frames = Array.from({ length: events }, (_, n) => frame(VARIANTS[m.variant](n)));
    const writes = [];
    for (let i = 0; i < frames.length; i += perWrite) writes.push(Buffer.concat(frames.slice(i, i + perWrite)));
    for (const w of writes) for (const s of conns) s.write(w);
  });
}

async function client(opts) {
  const { io } = require("socket.io-client");
  const wsPath = require.resolve("ws", { paths: [require.resolve("engine.io-client")] });
  const Receiver = require(require("path").join(require("path").dirname(wsPath), "lib", "receiver.js"));
  const wire = { reads: 0, bytes: 0 };
  const { _write } = Receiver.prototype;
  Receiver.prototype._write = function (chunk, enc, cb) { wire.reads++; wire.bytes += chunk.length; return _write.call(this, chunk, enc, cb); };

  const child = spawn("taskset", ["-c", String(opts.serverCpu), process.execPath, __filename, "--serve",
    "--events", String(opts.events), "--per-write", String(opts.perWrite)], { stdio: ["inherit", "inherit", "inherit", "ipc"] });
  const port = await new Promise((r) => child.once("message", (m) => r(m.port)));
  let delivered = 0;
  let sink = 0;
  const sockets = [];
  await Promise.all(Array.from({ length: opts.clients }, () => new Promise((resolve) => {
    const s = io(`http://127.0.0.1:${port}`, { transports: ["websocket"], reconnection: false, forceNew: true, auth: {} });
    sockets.push(s);
    s.once("connect", resolve);
    const count = (data) => { sink += parseFloat(data.text); delivered++; };
    s.on("bench", count);
    s.on("test_event", count);
  })));
  const target = opts.clients * opts.events;
  const rows = [];
  for (const variant of opts.variants.split(",")) {
    const per = [];
    let reads = 0, bytes = 0;
    for (let r = 0; r < opts.rounds + 1; r++) {
      delivered = 0; wire.reads = 0; wire.bytes = 0;
      const t0 = process.cpuUsage();
      child.send({ variant });
      await new Promise((resolve) => { const c = setInterval(() => { if (delivered >= target) { clearInterval(c); resolve(); } }, 2); });
      const cpu = process.cpuUsage(t0);
      if (r === 0) continue; // warm-up round per variant
      per.push(((cpu.user + cpu.system) / delivered));
      reads += wire.reads; bytes += wire.bytes;
    }
    per.sort((a, b) => a - b);
    rows.push({ variant, per_write: opts.perWrite, us_per_delivery: +per[per.length >> 1].toFixed(3),
      min: +per[0].toFixed(3), max: +per[per.length - 1].toFixed(3),
      bytes_per_delivery: +(bytes / (target * opts.rounds)).toFixed(1), deliveries_per_read: +((target * opts.rounds) / reads).toFixed(1) });
  }
  for (const row of rows) console.log(JSON.stringify(row));
  for (const s of sockets) s.close();
  child.kill();
  process.exit(sink ? 0 : 1);
}

const opts = { clients: 100, events: 500, rounds: 5, serverCpu: 0, perWrite: 1, variants: "node,ours,node-padded,ours-flat", serve: false };
for (let i = 2; i < process.argv.length; i++) {
  const key = process.argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  if (key === "serve") opts.serve = true;
  else opts[key] = typeof opts[key] === "number" ? Number(process.argv[++i]) : process.argv[++i];
}
if (opts.serve) serve(opts.events, opts.perWrite);
else client(opts).catch((e) => { console.error(e); process.exit(1); });
