// A small typed socket.io-client client that uses every event of the contract, in every namespace
// it lives in, through the generated declarations (static/js/realtime-events.d.ts). It is only
// type-checked (`tsc --noEmit`, realtime/tests/test_typed_clients.py): a contract edit that breaks
// what it reads or sends fails the suite, and each `@ts-expect-error` proves the types refuse a
// mistake (were a type `any`, the unused directive would fail the check).
import { io, type Socket } from "socket.io-client";
import type {
  Ack,
  ClientToServerEvents,
  HandshakeAuth,
  NamespaceName,
  ReplayMeta,
  ServerToClientEvents,
} from "realtime-events";

type TypedSocket<N extends NamespaceName> = Socket<ServerToClientEvents<N>, ClientToServerEvents<N>>;

const positions: Record<string, { seq: number; epoch: string }> = {};

function keep(meta: ReplayMeta | undefined): void {
  if (meta) positions[meta.room] = { seq: meta.seq, epoch: meta.epoch };
}

function connect<N extends NamespaceName>(namespace: N, token: string): TypedSocket<N> {
  const auth: HandshakeAuth = { token, last_seen: positions };
  return io(`https://example.test${namespace === "/" ? "" : namespace}`, { auth, path: "/socket.io/" });
}

function log(...parts: unknown[]): void {
  console.log(...parts);
}

function checked(ack: Ack): boolean {
  if (!ack.ok) log("refused", ack.code, ack.message);
  return ack.ok;
}

export async function root(token: string): Promise<void> {
  const socket = connect("/", token);
  socket.on("connected", (d) => {
    const user: number = d.user_id;
    const tenant: number | null = d.tenant_id;
    log(d.message, user, tenant, Object.entries(d.positions ?? {}).map(([room, p]) => `${room}@${p.seq}:${p.epoch}`));
  });
  socket.on("connection_status", (d) => log(d.status === "connected", d.message, Date.parse(d.timestamp)));
  socket.on("error", (d) => log(d.code, d.message, d.event ?? ""));
  socket.on("pong", (d) => log(d === null));
  socket.on("resync_required", (d) => {
    const reason: "epoch_changed" | "log_truncated" | "log_expired" | "ahead_of_server" | "rolled_back" = d.reason;
    delete positions[d.room];
    log(reason);
  });
  socket.on("agent_status", (d) => {
    keep(d._meta);
    if (d.status === "error") log(d.job_id, d.error?.toUpperCase(), d.event === "status_change");
    else log(d.job_id, d.status, d.result, d.timestamp);
  });
  socket.on("agent_progress", (d) => {
    keep(d._meta);
    const pct: number = d.progress;
    log(d.job_id, pct.toFixed(1), d.message ?? "", d.event, d.timestamp);
  });
  for (const event of ["job_application_complete", "payment_complete", "liabilities_offset_complete"] as const) {
    socket.on(event, (d) => {
      keep(d._meta);
      if ("error" in d) log(d.username, d.error, d.success, d.message);
      else log(d.username, d.message, Object.keys(d.payload));
    });
  }
  socket.on("automation_progress", (d) => {
    keep(d._meta);
    log(d.stage, d.message, d.timestamp, d.percent ?? 0, d.data, d.automation_id);
  });
  socket.on("automation_error", (d) => {
    keep(d._meta);
    const recoverable: boolean = d.recoverable;
    log(d.error_type, d.message, recoverable, d.timestamp, d.automation_id, d.ticker);
  });
  socket.on("automation_paused", (d) => log(d.automation_id + 1, d.message, keep(d._meta)));
  socket.on("automation_resumed", (d) => log(d.automation_id, d.remaining_count * 2, d.message, keep(d._meta)));
  socket.on("automation_cancelled", (d) => log(d.automation_id, d.message, keep(d._meta)));
  socket.on("status_update", (d) => log(d.monitoring_active, d.loop_count, d.active_instances, d.timestamp));
  socket.on("statistics_update", (d) => {
    log(d.connections, d.connections_by_namespace["/"], d.events_per_second.toFixed(2), d.jobs);
    log(d.processes.map((p) => p.process), d.rooms.map((r) => `${r.namespace}${r.room}:${r.size}`));
    log(d.presence.map((p) => p.users.join(",")), d.queues.map((q) => q.queued + q.workers));
    log(d.workers.map((w) => w.state), d.recent_errors.map((e) => e.message), d.timestamp);
  });
  socket.on("instances_update", (d) => log(d.instances.filter((i) => i.kind === "worker").map((i) => i.process)));
  socket.on("test_event", (d) => log(d.n + 1, d.text, d.source, keep(d._meta)));

  checked(await socket.emitWithAck("subscribe", { room: "project:1", last_seq: 3, epoch: "e" }));
  checked(await socket.emitWithAck("unsubscribe", { room: "project:1" }));
  checked(await socket.emitWithAck("ping", null));
  checked(await socket.emitWithAck("join_room", { room: "alice" }));
  checked(await socket.emitWithAck("subscribe_project", { project_id: "project_456" }));
  checked(await socket.emitWithAck("unsubscribe_project", { project_id: 456 }));
  socket.emit("pause_automation", { automation_id: 7 }, (ack) => checked(ack));
  socket.emit("resume_automation", { automation_id: "7" }, (ack) => checked(ack));
  checked(await socket.timeout(5000).emitWithAck("cancel_automation", { automation_id: 7 }));
  checked(await socket.emitWithAck("retry_automation", { automation_id: 7 }));
  checked(await socket.emitWithAck("echo", { n: 1 }));

  // @ts-expect-error: a misspelt field
  await socket.emitWithAck("subscribe", { rooms: "project:1" });
  // @ts-expect-error: the wrong type
  await socket.emitWithAck("echo", { n: "1" });
  // @ts-expect-error: an event the server does not take
  socket.emit("subscribe_projects", { project_id: 1 });
  // @ts-expect-error: an event of another namespace
  socket.on("notification:new", () => undefined);
  socket.on("agent_progress", (d) => {
    // @ts-expect-error: progress is a number
    d.progress.toUpperCase();
  });
}

export async function notifications(token: string): Promise<void> {
  const socket = connect("/notifications", token);
  socket.on("connected", (d) => log(d.user_id));
  socket.on("connection_status", (d) => log(d.timestamp));
  socket.on("error", (d) => log(d.code));
  socket.on("pong", (d) => log(d === null));
  socket.on("resync_required", (d) => log(d.room, d.reason));
  socket.on("test_event", (d) => log(d.n));
  socket.on("notification:new", (d) => {
    keep(d._meta);
    log(d.id, d.title, d.message, d.type, new Date(d.created_at));
  });
  socket.on("notification_read_confirmed", (d) => log(d.notification_id, keep(d._meta)));
  checked(await socket.emitWithAck("subscribe", { room: "user:1" }));
  checked(await socket.emitWithAck("unsubscribe", { room: "user:1" }));
  checked(await socket.emitWithAck("notification_read", { notification_id: 3 }));
  const unread = await socket.emitWithAck("notifications_unread", { limit: 10 });
  log(unread.ok, unread["notifications"]);
  checked(await socket.emitWithAck("echo", { n: 2 }));
  checked(await socket.emitWithAck("ping", null));
  // @ts-expect-error: notification_read wants notification_id
  await socket.emitWithAck("notification_read", { id: 3 });
}

export async function provisioning(token: string): Promise<void> {
  const socket = connect("/ws/provisioning", token); // an alias: the same events as /provisioning
  socket.on("connected", (d) => log(d.tenant_id));
  socket.on("connection_status", (d) => log(d.message));
  socket.on("error", (d) => log(d.message));
  socket.on("pong", (d) => log(d === null));
  socket.on("resync_required", (d) => log(d.reason));
  socket.on("test_event", (d) => log(d.source));
  socket.on("status:update", (d) => log(d.tenant_id, d.status, d.progress / 100, d.message, keep(d._meta)));
  socket.on("status:completed", (d) => log(d.tenant_id, new URL(d.erpnext_url), keep(d._meta)));
  socket.on("status:failed", (d) => log(d.tenant_id, d.error, keep(d._meta)));
  checked(await socket.emitWithAck("subscribe", { room: "tenant:1" }));
  checked(await socket.emitWithAck("unsubscribe", { room: "tenant:1" }));
  checked(await socket.emitWithAck("echo", { n: 3 }));
  checked(await socket.emitWithAck("ping", null));
}

export async function billing(token: string): Promise<void> {
  const socket = connect("/billing", token);
  socket.on("connected", (d) => log(d.message));
  socket.on("connection_status", (d) => log(d.status));
  socket.on("error", (d) => log(d.event));
  socket.on("pong", (d) => log(d === null));
  socket.on("resync_required", (d) => log(d.room));
  socket.on("test_event", (d) => log(d.text));
  socket.on("subscription:updated", (d) => log(Object.keys(d.subscription), keep(d._meta)));
  socket.on("subscription:expiring", (d) => log(d.days_left - 1, keep(d._meta)));
  socket.on("payment:received", (d) => log(Number(d.amount), d.currency.toLowerCase(), keep(d._meta)));
  checked(await socket.emitWithAck("subscribe", { room: "tenant:1" }));
  checked(await socket.emitWithAck("unsubscribe", { room: "tenant:1" }));
  checked(await socket.emitWithAck("echo", { n: 4 }));
  checked(await socket.emitWithAck("ping", null));
  // @ts-expect-error: a billing client cannot send a root-namespace event
  await socket.emitWithAck("subscribe_project", { project_id: 1 });
}
