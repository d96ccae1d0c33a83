// Runs docs/examples/replay-client.mjs against a live server with the official socket.io-client
// (the same file a browser page imports). Run by ops/tests/test_docs.py with SERVER_URL and TOKEN.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { connectWithReplay } from "./replay-client.mjs";

const require = createRequire(import.meta.url);
const { io } = require("socket.io-client");
const { SERVER_URL, TOKEN } = process.env;

const got = [];
const waiters = [];
function waitFor(n, ms = 10000) {
  if (got.includes(n)) return Promise.resolve(n);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for n=${n}; got ${got}`)), ms);
    waiters.push({ n, resolve: () => (clearTimeout(timer), resolve(n)) });
  });
}
function received(n) {
  got.push(n);
  waiters.filter((w) => w.n === n).forEach((w) => w.resolve());
}

const memory = new Map();
const storage = { getItem: (k) => memory.get(k) ?? null, setItem: (k, v) => memory.set(k, v) };
const opts = { token: TOKEN, storage, reconnection: false, onEvent: (e, d) => e === "test_event" && received(d.n) };

let rt = connectWithReplay(io, SERVER_URL, opts);
await new Promise((r) => rt.socket.once("connected", r));
await rt.socket.timeout(10000).emitWithAck("echo", { n: 1 });
await waitFor(1);
rt.socket.close();

const other = io(SERVER_URL, { auth: { token: TOKEN }, transports: ["websocket"], reconnection: false });
await new Promise((r) => other.once("connected", r));
for (const n of [2, 3]) await other.timeout(10000).emitWithAck("echo", { n });
other.close();

rt = connectWithReplay(io, SERVER_URL, opts); // a new page load with the stored positions
await waitFor(3);
await rt.socket.timeout(10000).emitWithAck("echo", { n: 4 });
await waitFor(4);
rt.socket.close();
assert.deepEqual(got, [1, 2, 3, 4]);
console.log(JSON.stringify({ received: got }));
