/* Realtime client for our pages (socket.io-client underneath), with the replay bookkeeping:
 * - remembers the last {seq, epoch} seen per room (each room event carries _meta {room, seq, epoch});
 * - sends them as auth.last_seen on every (re)connect, so the server replays what was missed;
 * - drops events it has already seen (seq <= last seen in the same epoch);
 * - on resync_required, forgets the room's position (the room's next event is taken, whatever its
 *   seq: after Redis lost data, seqs start again lower) and calls onResync(room) so the page
 *   reloads its state over HTTP;
 * - records the positions `connected` gives for the rooms joined on connect, so a room that had
 *   no event yet is replayed too after a reconnect;
 * - subscribe(room) joins a room once: events for it are held until the ack arrives, then the
 *   ack's snapshot is applied and the held events newer than the ack's seq follow it.
 */
(function (global) {
  "use strict";

  function createRealtime(options) {
    const opts = Object.assign({ onEvent() {}, onSnapshot() {}, onResync() {}, onStatus() {} }, options || {});
    const positions = {}; // room -> {seq, epoch}
    const pending = {}; // room -> events held until the subscribe ack
    const subscribed = new Set();

    const socket = global.io({
      auth: (cb) => cb({ last_seen: JSON.parse(JSON.stringify(positions)) }),
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
    });

    function seen(meta) {
      const pos = positions[meta.room];
      return pos && pos.epoch === meta.epoch && meta.seq <= pos.seq;
    }

    function deliver(event, data) {
      const meta = data && data._meta;
      if (meta) {
        if (pending[meta.room]) {
          pending[meta.room].push([event, data]);
          return;
        }
        if (seen(meta)) return; // a duplicate (replayed, or delivered twice)
        positions[meta.room] = { seq: meta.seq, epoch: meta.epoch };
      }
      opts.onEvent(event, data, meta ? meta.room : null);
    }

    const attempts = {}; // room -> number of the latest subscribe, so a stale ack is ignored

    // subscribe(room): join with a snapshot (onSnapshot), then the events after it.
    // subscribe(room, {seq, epoch}): join from that position: the server replays what came after
    // it (or sends resync_required), without a snapshot; for a page that rendered the room's
    // state and history itself.
    function subscribe(room, from) {
      subscribed.add(room);
      const payload = { room: room };
      if (from && from.epoch) {
        positions[room] = { seq: from.seq, epoch: from.epoch };
        // Not connected yet: the connect sends this position in auth.last_seen, and the server
        // joins (authorized) and replays from it; a subscribe as well would do it all twice.
        if (!socket.connected) return;
        payload.last_seq = from.seq;
        payload.epoch = from.epoch;
      }
      if (!payload.epoch) pending[room] = [];
      const attempt = (attempts[room] || 0) + 1;
      attempts[room] = attempt;
      socket.emit("subscribe", payload, (ack) => {
        if (payload.epoch) {
          // replayed events came before this ack, deduplicated by position as they arrived
          if (!ack || !ack.ok) opts.onStatus("error", (ack && ack.message) || "could not subscribe to " + room);
          return;
        }
        if (attempts[room] !== attempt || !pending[room]) return; // superseded by a later subscribe
        const held = pending[room];
        delete pending[room];
        if (!ack || !ack.ok) {
          opts.onStatus("error", (ack && ack.message) || "could not subscribe to " + room);
          return;
        }
        positions[room] = { seq: ack.seq, epoch: ack.epoch };
        if (ack.snapshot) opts.onSnapshot(room, ack.snapshot);
        held.forEach(([event, data]) => deliver(event, data));
      });
    }

    socket.on("connect", () => {
      opts.onStatus("live");
      // Rooms we have a position for were re-joined by the server from auth.last_seen (with
      // replay); a room we never got a position for is subscribed (again).
      subscribed.forEach((room) => {
        if (!positions[room] && !pending[room]) subscribe(room);
      });
    });
    socket.on("disconnect", () => {
      // A subscribe not acknowledged before the connection dropped may never be: forget it (and
      // the events held for it); the room is subscribed again, with a fresh snapshot, on connect.
      Object.keys(pending).forEach((room) => {
        delete pending[room];
        attempts[room] = (attempts[room] || 0) + 1;
      });
      opts.onStatus("reconnecting");
    });
    socket.on("connected", (data) => {
      // Where the rooms joined on connect (our user and tenant rooms, and those in last_seen)
      // stood: a room we have no position for yet is replayed from there on reconnect.
      const given = (data && data.positions) || {};
      Object.keys(given).forEach((room) => {
        if (!positions[room] && !pending[room]) positions[room] = { seq: given[room].seq, epoch: given[room].epoch };
      });
    });
    socket.on("connect_error", (err) => opts.onStatus("offline", err && err.message));
    socket.on("resync_required", (data) => {
      delete positions[data.room];
      opts.onResync(data.room, data.reason);
    });
    socket.on("error", (data) => opts.onEvent("error", data, null));
    socket.onAny((event, data) => {
      if (event === "resync_required" || event === "error") return;
      deliver(event, data);
    });

    return {
      socket: socket,
      positions: positions,
      subscribe: subscribe,
      call(event, data) {
        return new Promise((resolve) => socket.timeout(10000).emit(event, data, (err, ack) => {
          resolve(err ? { ok: false, code: "timeout", message: "no answer from the server" } : ack);
        }));
      },
    };
  }

  function setConnection(status, detail) {
    const el = document.getElementById("connection");
    if (!el) return;
    const text = { live: "live", reconnecting: "reconnecting…", offline: "offline", error: "error" }[status] || status;
    el.textContent = text;
    el.className = "connection " + status;
    el.title = detail || "Realtime connection: " + text;
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { error: "unexpected answer (" + response.status + ")" }; }
    return { ok: response.ok, status: response.status, data: data };
  }

  global.Realtime = { create: createRealtime, setConnection: setConnection, postJSON: postJSON, csrfToken: csrfToken };
})(window);
