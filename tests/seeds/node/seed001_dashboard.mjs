// Seed 001's dashboard in the browser, under Node with socket.io-client: it listens for
// `statistics_update` and shows the seed's four numbers. Placeholders filled: the server and a
// staff JWT. First as the seed has it, listening on a fresh connection (the seed broadcasts to
// everyone); then with the documented step: `subscribe {room: 'staff'}` (docs/ops.md). Lines
// marked "harness" report what it saw, one JSON object a line.
import { io } from 'socket.io-client';

const SERVER = process.env.SERVER_URL;
const auth = { token: process.env.TOKEN };
const out = (line) => console.log(JSON.stringify(line)); // harness
const shown = {};
const show = (label, value) => (shown[label] = value);

const asWritten = io(SERVER, { auth });
asWritten.on('statistics_update', (stats) => out({ as_written: stats })); // harness
await new Promise((resolve) => asWritten.once('connection_status', resolve)); // harness: connected

const socket = io(SERVER, { auth });
socket.on('connect', () => {
  console.log('🔌 Connected to CloudVoter server');
  socket.emit('subscribe', { room: 'staff' }); // the documented step
});
let updates = 0;
socket.on('statistics_update', (stats) => {
  console.log('[STATS] Socket.IO update received:', stats.total_attempts);
  show('Total Attempts', stats.total_attempts);
  show('Successful Votes', stats.successful_votes);
  show('Failed Votes', stats.failed_votes);
  show('Active Instances', stats.active_instances);
  out({ event: 'statistics_update', shown, room: stats._meta.room }); // harness
  updates += 1;
  if (updates === 2) { // the second came after asWritten was connected: it would have it too
    asWritten.emitWithAck('echo', { n: 0 }).then(() => {
      out({ done: true });
      asWritten.close();
      socket.close();
    });
  }
});
