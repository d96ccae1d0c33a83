// The official socket.io-client (from the npm registry) against our server: JWT auth, the
// `connected` event, subscribe_project with its ack, and a job's progress. Run by
// realtime/tests/test_node_client.py, which starts the server and the worker and passes:
// SERVER_URL, TOKEN (a member of PROJECT_ID), OUTSIDER_TOKEN (not a member).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { io } = require("socket.io-client");
const { SERVER_URL, TOKEN, OUTSIDER_TOKEN, PROJECT_ID } = process.env;
const projectId = Number(PROJECT_ID);

function once(socket, event, predicate = () => true, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    const handler = (data) => {
      if (predicate(data)) {
        clearTimeout(timer);
        socket.off(event, handler);
        resolve(data);
      }
    };
    socket.on(event, handler);
  });
}

function connect(options = {}) {
  return io(SERVER_URL, { auth: { token: TOKEN }, reconnection: false, ...options });
}

test("connects with a JWT and receives connected and connection_status", async () => {
  for (const [path, transports] of [["/socket.io/", ["websocket"]], ["/ws/socket.io/", ["polling"]]]) {
    const socket = connect({ path, transports });
    const [connected, status] = await Promise.all([once(socket, "connected"), once(socket, "connection_status")]);
    assert.equal(typeof connected.user_id, "number");
    assert.equal(status.status, "connected");
    socket.close();
  }
});

test("a bad token is refused with a readable reason", async () => {
  const socket = connect({ auth: { token: "not-a-jwt" } });
  const err = await once(socket, "connect_error");
  assert.match(err.message, /malformed|invalid/);
  assert.equal(err.data.code, "invalid_token");
  socket.close();
});

test("subscribes to a project and follows a job to success", async () => {
  const socket = connect();
  await once(socket, "connected");
  const ack = await socket.timeout(10000).emitWithAck("subscribe_project", { project_id: projectId });
  assert.equal(ack.ok, true);
  assert.equal(ack.room, `project:${projectId}`);
  assert.ok(Array.isArray(ack.snapshot.jobs));

  const response = await fetch(`${SERVER_URL}/api/projects/${projectId}/jobs/demo`, {
    method: "POST",
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ steps: 5, step_seconds: 0.05 }),
  });
  assert.equal(response.status, 202);
  const { job_id: jobId } = await response.json();
  const progress = [];
  socket.on("agent_progress", (data) => data.job_id === jobId && progress.push(data));
  const done = await once(socket, "agent_status", (d) => d.job_id === jobId && d.status === "success", 30000);
  assert.deepEqual(done.result, { steps: 5 });
  assert.ok(progress.length >= 1);
  assert.equal(progress.at(-1).progress, 100);
  assert.equal(progress.at(-1)._meta.room, `project:${projectId}`);
  assert.ok(done._meta.seq > progress.at(-1)._meta.seq);
  socket.close();
});

test("a non-member is refused on subscribe with an error event", async () => {
  const socket = connect({ auth: { token: OUTSIDER_TOKEN } });
  await once(socket, "connected");
  const errorEvent = once(socket, "error");
  const ack = await socket.timeout(10000).emitWithAck("subscribe_project", { project_id: projectId });
  assert.equal(ack.ok, false);
  assert.equal(ack.code, "forbidden");
  assert.equal((await errorEvent).code, "forbidden");
  socket.close();
});

test("seed 004's client: io('<host>/ws', {path: '/socket.io'}) with auth.token", async () => {
  const socket = io(`${SERVER_URL}/ws`, { path: "/socket.io", auth: { token: TOKEN }, reconnection: false });
  const connected = await once(socket, "connected");
  assert.equal(typeof connected.user_id, "number");
  const provisioning = io(`${SERVER_URL}/ws/provisioning`, { path: "/socket.io", auth: { token: TOKEN }, reconnection: false });
  await once(provisioning, "connected");
  socket.close();
  provisioning.close();
});
