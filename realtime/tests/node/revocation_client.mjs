// One socket.io-client connection, driven by tests/test_revocation_node.py (issue 17): it
// connects with TOKEN to SERVER_URL, subscribes to PROJECT_ID, prints "ready", then prints every
// `error`, `test_event` and the disconnect as JSON lines on stdout, until "quit" on stdin.
import { createRequire } from "node:module";
import readline from "node:readline";

const require = createRequire(import.meta.url);
const { io } = require("socket.io-client");
const { SERVER_URL, TOKEN, PROJECT_ID } = process.env;

const say = (line) => process.stdout.write(JSON.stringify({ ...line, at: Date.now() }) + "\n");
const socket = io(SERVER_URL, { auth: { token: TOKEN }, reconnection: false, transports: ["websocket"] });

socket.once("connected", async () => {
  const ack = await socket.timeout(10000).emitWithAck("subscribe_project", { project_id: Number(PROJECT_ID) });
  say({ type: "ready", ok: ack.ok, room: ack.room });
});
socket.on("error", (data) => say({ type: "error", code: data.code, room: data.room ?? null, message: data.message }));
socket.on("test_event", (data) => say({ type: "event", n: data.n, room: data._meta.room }));
socket.on("disconnect", (reason) => say({ type: "disconnect", reason }));
socket.on("connect_error", (err) => say({ type: "connect_error", message: err.message }));

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "quit") {
    socket.close();
    process.exit(0);
  }
});
