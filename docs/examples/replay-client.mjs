// A browser (and Node) Socket.IO client that follows its rooms with replay.
//
//   <script src="/static/vendor/socket.io-client/socket.io.min.js"></script>
//   <script type="module">
//     import { connectWithReplay } from "/static/replay-client.mjs";
//     const rt = connectWithReplay(io, location.origin, {
//       storage: sessionStorage,                       // positions survive a page reload
//       onEvent: (event, data) => render(event, data), // each event once, in order per room
//       onResync: (room) => reloadFromHttp(room),      // the log no longer reaches back
//     });
//     rt.socket.emitWithAck("subscribe", { room: "run:12" }).then(ack => draw(ack.snapshot));
//   </script>
//
// The server knows a browser by its session cookie; other clients pass `token` (a JWT).
// Each room event carries `_meta: {room, seq, epoch}`. The client keeps the last one per room,
// sends them as `auth.last_seen` on every (re)connect so the server replays what was missed
// (and re-joins those rooms after checking permission again), and drops duplicates.

export function connectWithReplay(io, url, options = {}) {
  const { token, namespace = "/", storage = null, onEvent = () => {}, onResync = () => {}, ...ioOptions } = options;
  const key = `realtime.positions.${namespace}`;
  const positions = JSON.parse((storage && storage.getItem(key)) || "{}");
  const save = () => storage && storage.setItem(key, JSON.stringify(positions));

  const socket = io(url + (namespace === "/" ? "" : namespace), {
    path: "/socket.io",
    transports: ["websocket", "polling"],
    // a function: evaluated on every connection attempt, so reconnects send fresh positions
    auth: (cb) => cb({ ...(token ? { token } : {}), last_seen: positions }),
    ...ioOptions,
  });

  function remember(data) {
    const meta = data && data._meta;
    if (!meta) return true;
    const seen = positions[meta.room];
    if (seen && seen.epoch === meta.epoch && meta.seq <= seen.seq) return false; // duplicate
    positions[meta.room] = { seq: meta.seq, epoch: meta.epoch };
    save();
    return true;
  }

  socket.onAny((event, data) => {
    if (event === "resync_required") {
      delete positions[data.room];
      save();
      onResync(data.room, data.reason);
      return;
    }
    if (remember(data)) onEvent(event, data);
  });

  // A snapshot from a subscribe ack is the state as of ack.seq: later events apply on top of it.
  async function subscribe(room) {
    const ack = await socket.timeout(10000).emitWithAck("subscribe", { room });
    if (ack.ok && !positions[room]) {
      positions[room] = { seq: ack.seq, epoch: ack.epoch };
      save();
    }
    return ack;
  }

  return { socket, positions, subscribe };
}
