// Reconnect-storm clients (issue 16): N socket.io-client connections (WebSocket transport) with
// socket.io-client's default reconnection (1 s doubling to 5 s, jitter 0.5), each coming back
// with `auth.last_seen` = the last position it saw in each of its rooms. Every `test_event`
// (with `_meta` {room, seq, epoch}) is checked to follow the previous one of its room: a gap or a
// duplicate is counted, unless a `resync_required` for the room came first.
// Used by realtime/tests/test_storm.py (a few hundred clients) and bench/run.py's storm round.
//
//   node testing/storm_clients.mjs --url http://127.0.0.1:PORT --clients N --tokens T1,T2,...
//        [--concurrency 200] [--event test_event] [--ready-event connected] [--timeout-ms 120000]
// (--ready-event: the server's greeting once a connection's rooms are joined; ours sends
// `connected` with the rooms' positions, the bench's Node server `ready`)
// stdout, one JSON line each: {"ready", "failed", "connect_ms"} once all are connected (welcomed);
// then commands on stdin, one a line:
//   mark NAME            remember now as NAME (e.g. "kill", "restart"); answers {"marked": NAME}
//   expect {"room": seq} wait until every client is back (welcomed again after the last mark
//                        "kill") and at each head for its rooms (or resynced), or --timeout-ms;
//                        answers with the figures (times in ms from the marks)
// Exits when stdin closes.
import { createRequire } from "node:module";
import readline from "node:readline";

const require = createRequire(import.meta.url);
const { io } = require("socket.io-client");

const args = { url: "", path: "/socket.io/", clients: 100, tokens: "", concurrency: 200, event: "test_event",
  readyEvent: "connected", timeoutMs: 120000 };
for (let i = 2; i < process.argv.length; i++) {
  const key = process.argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  args[key] = typeof args[key] === "number" ? Number(process.argv[++i]) : process.argv[++i];
}
const tokens = args.tokens.split(",").filter(Boolean);
const now = () => performance.timeOrigin + performance.now();
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const marks = {};

class Client {
  constructor(index) {
    this.last = new Map(); // room -> {seq, epoch}
    this.gaps = 0;
    this.duplicates = 0;
    this.resyncs = 0;
    this.events = 0;
    this.welcomes = 0;
    this.welcomedAt = 0;
    this.lastEventAt = 0;
    this.refusals = 0;
    const token = tokens[index % tokens.length];
    this.socket = io(args.url, {
      path: args.path,
      transports: ["websocket"],
      forceNew: true,
      // a function: called on every (re)connection, so it sends the positions seen so far
      auth: (cb) => cb({ token, last_seen: Object.fromEntries(this.last) }),
    });
    this.socket.on(args.readyEvent, (data) => {
      for (const [room, pos] of Object.entries((data && data.positions) || {})) {
        if (!this.last.has(room)) this.last.set(room, { seq: pos.seq, epoch: pos.epoch });
      }
      this.welcomes++;
      this.welcomedAt = now();
    });
    this.socket.on("connect_error", () => this.refusals++);
    this.socket.on("resync_required", ({ room }) => {
      this.resyncs++;
      this.last.delete(room); // reload the room's state; its next event is the new start
    });
    this.socket.on(args.event, (data) => {
      const meta = data && data._meta;
      if (!meta) return;
      this.events++;
      this.lastEventAt = now();
      const seen = this.last.get(meta.room);
      if (seen && seen.epoch === meta.epoch) {
        if (meta.seq <= seen.seq) {
          this.duplicates++;
          return;
        }
        if (meta.seq !== seen.seq + 1) this.gaps++;
      } else if (seen) {
        this.gaps++; // another epoch without a resync_required
      }
      this.last.set(meta.room, { seq: meta.seq, epoch: meta.epoch });
    });
  }

  caughtUp(heads) {
    for (const [room, seq] of Object.entries(heads)) {
      const seen = this.last.get(room);
      if (seen && seen.seq < seq) return false;
    }
    return true;
  }
}

const clients = [];

async function connectAll() {
  const started = now();
  let next = 0;
  const workers = Array.from({ length: Math.min(args.concurrency, args.clients) }, async () => {
    while (next < args.clients) {
      const client = new Client(next++);
      clients.push(client);
      await new Promise((resolve) => {
        const check = () => (client.welcomes ? resolve() : setTimeout(check, 5));
        check();
      });
    }
  });
  await Promise.race([Promise.all(workers), new Promise((r) => setTimeout(r, args.timeoutMs))]);
  return now() - started;
}

function pct(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function expect(heads) {
  const kill = marks.kill ?? 0;
  const deadline = now() + args.timeoutMs;
  const back = (c) => c.welcomedAt > kill;
  while (now() < deadline && !clients.every((c) => back(c) && c.caughtUp(heads))) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const from = marks.restart ?? kill;
  const backMs = clients.filter(back).map((c) => c.welcomedAt - from);
  const caughtMs = clients.filter((c) => back(c) && c.caughtUp(heads)).map((c) => Math.max(c.welcomedAt, c.lastEventAt) - from);
  const sum = (f) => clients.reduce((n, c) => n + f(c), 0);
  const r = (v) => (v === null ? null : Math.round(v));
  out({
    clients: clients.length,
    back: backMs.length,
    caught_up: caughtMs.length,
    back_p99_ms: r(pct(backMs, 99)),
    back_all_ms: backMs.length === clients.length ? r(Math.max(...backMs)) : null,
    caught_up_p99_ms: r(pct(caughtMs, 99)),
    caught_up_all_ms: caughtMs.length === clients.length ? r(Math.max(...caughtMs)) : null,
    down_ms: marks.restart && marks.kill ? r(marks.restart - marks.kill) : null,
    gaps: sum((c) => c.gaps),
    duplicates: sum((c) => c.duplicates),
    resyncs: sum((c) => c.resyncs),
    events: sum((c) => c.events),
    connect_errors: sum((c) => c.refusals),
  });
}

async function main() {
  const connectMs = await connectAll();
  const ready = clients.filter((c) => c.welcomes).length;
  out({ ready, failed: args.clients - ready, connect_ms: Math.round(connectMs) });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [command, ...rest] = line.trim().split(" ");
    if (command === "mark") {
      marks[rest[0]] = now();
      out({ marked: rest[0] });
    } else if (command === "expect") {
      await expect(JSON.parse(rest.join(" ")));
    }
  }
  for (const c of clients) c.socket.close();
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
