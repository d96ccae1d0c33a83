// The live ops page: joins the `staff` room over Socket.IO (the session cookie authenticates)
// and redraws on every statistics_update; while disconnected it polls GET /api/stats.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const rates = [];
  let pollTimer = null;

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "" : String(text);
    if (cls) td.className = cls;
    return td;
  }

  function table(id, head, rows, numeric) {
    const t = $(id);
    t.replaceChildren();
    const tr = document.createElement("tr");
    head.forEach((h, i) => {
      const th = document.createElement("th");
      th.textContent = h;
      if (numeric && numeric.includes(i)) th.className = "num";
      tr.appendChild(th);
    });
    t.appendChild(tr);
    if (!rows.length) {
      const empty = document.createElement("tr");
      const td = cell("none", "ops-empty");
      td.colSpan = head.length;
      empty.appendChild(td);
      t.appendChild(empty);
    }
    rows.forEach((row) => {
      const r = document.createElement("tr");
      row.forEach((v, i) => r.appendChild(cell(v, numeric && numeric.includes(i) ? "num" : "")));
      t.appendChild(r);
    });
  }

  function spark(value) {
    rates.push(value);
    if (rates.length > 60) rates.shift();
    const max = Math.max(1, ...rates);
    const step = 120 / Math.max(1, rates.length - 1);
    const points = rates.map((v, i) => `${(i * step).toFixed(1)},${(29 - (v / max) * 28).toFixed(1)}`).join(" ");
    $("ops-spark").querySelector("polyline").setAttribute("points", points);
  }

  function render(s) {
    $("ops-updated").textContent = s.timestamp;
    $("ops-connections").textContent = s.connections;
    $("ops-users").textContent = s.users_online;
    $("ops-eps").textContent = s.events_per_second;
    $("ops-processes").textContent = s.processes.length;
    $("ops-rooms-total").textContent = s.rooms_total;
    const j = s.jobs || {};
    $("ops-jobs").textContent = [j.queued, j.running, j.success, j.error].map((n) => n || 0).join(" · ");
    const o = s.outbox || { waiting: 0, oldest_age_seconds: 0 };
    $("ops-outbox").textContent = `${o.waiting} · ${o.oldest_age_seconds} s`;
    spark(s.events_per_second);
    const namespaces = Object.keys(s.connections_by_namespace).sort();
    table(
      "ops-proc-table",
      ["process", ...namespaces, "rooms", "fast path", "slow-consumer disconnects"],
      s.processes.map((p) => [
        p.process,
        ...namespaces.map((ns) => p.connections[ns] || 0),
        p.rooms,
        p.fastpath && p.fastpath.active ? "on" : `off: ${(p.fastpath && p.fastpath.reason) || "not reported"}`,
        p.slow_consumer_disconnects || 0,
      ]),
      [...namespaces.map((_, i) => i + 1), namespaces.length + 1, namespaces.length + 3]
    );
    table("ops-room-table", ["room", "namespace", "members"], s.rooms.map((r) => [r.room, r.namespace, r.size]), [2]);
    table(
      "ops-presence-table",
      ["tenant", "online", "users"],
      s.presence.map((t) => [t.tenant, t.count, t.users.slice(0, 12).join(", ") + (t.users.length > 12 ? " …" : "")]),
      [1]
    );
    table(
      "ops-queue-table",
      ["queue", "queued", "started", "scheduled", "failed", "workers"],
      s.queues.map((q) => [q.name, q.queued, q.started, q.scheduled, q.failed, q.workers]),
      [1, 2, 3, 4, 5]
    );
    table(
      "ops-worker-table",
      ["worker", "state", "current job", "ok", "failed"],
      s.workers.map((w) => [w.name, w.state, w.current_job || "–", w.successful_jobs, w.failed_jobs]),
      [3, 4]
    );
    table("ops-emit-table", ["event", "published"], Object.entries(s.emits_by_event).sort((a, b) => b[1] - a[1]).slice(0, 15), [1]);
    table("ops-error-table", ["time", "source", "message"], s.recent_errors.map((e) => [e.time.slice(11, 19), e.source, e.message]));
  }

  function link(state, text) {
    $("ops-link").className = "ops-dot " + state;
    $("ops-link-text").textContent = text;
  }

  async function poll() {
    try {
      const r = await fetch("/api/stats", { credentials: "same-origin" });
      if (r.ok) render(await r.json());
    } catch (e) { /* next poll */ }
  }

  function startPolling() {
    if (!pollTimer) pollTimer = setInterval(poll, 10000);
  }

  render(JSON.parse($("ops-initial").textContent));
  const socket = io({ path: "/socket.io", transports: ["websocket", "polling"] });
  socket.on("connect", () => {
    socket.emit("subscribe", { room: "staff" }, (ack) => {
      if (ack && ack.ok) {
        link("live", "live (staff room)");
        clearInterval(pollTimer);
        pollTimer = null;
      } else {
        link("down", "refused: " + (ack ? ack.message : "no answer"));
      }
    });
  });
  socket.on("disconnect", () => { link("polling", "reconnecting… (polling /api/stats)"); startPolling(); });
  socket.on("connect_error", () => { link("polling", "cannot connect (polling /api/stats)"); startPolling(); });
  socket.on("statistics_update", render);
})();
