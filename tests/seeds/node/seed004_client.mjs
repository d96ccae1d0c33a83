// Seed 004's JavaScript client ("Client Example (JavaScript)", shared/seeds/004) as written,
// placeholders filled: 'http://localhost:8000' is the server, localStorage's access_token a
// JWT, 'uuid-here' the id of a notification the test sends. Lines marked "harness" report what
// the client saw (one JSON object a line), ping the server (seed 004's event table), and
// stand in for the Flutter client's single socket, which listens for provisioning events on `/`.
import io from 'socket.io-client';

const HOST = process.env.SERVER_URL;
const localStorage = { getItem: () => process.env.TOKEN }; // placeholder: the app's stored JWT
const out = (line) => console.log(JSON.stringify(line)); // harness
const updateProgressBar = () => {};
const redirectToSite = () => {};
const showError = () => {};
const showNotification = () => {};

// Connect
const socket = io(HOST + '/ws', {
  path: '/socket.io',
  auth: {
    token: localStorage.getItem('access_token')
  }
});

// Connection events
socket.on('connected', (data) => {
  console.log('Connected:', data);
  out({ event: 'connected', data }); // harness
});

socket.on('error', (data) => {
  console.error('Socket error:', data.message);
  out({ event: 'error', data }); // harness
});

// Provisioning events
const provisioningSocket = io(HOST + '/ws/provisioning', {
  path: '/socket.io',
  auth: {
    token: localStorage.getItem('access_token')
  }
});

provisioningSocket.on('status:update', (data) => {
  console.log('Provisioning progress:', data.progress + '%');
  updateProgressBar(data.progress);
  out({ event: 'status:update', data }); // harness
});

provisioningSocket.on('status:completed', (data) => {
  console.log('Site ready:', data.erpnext_url);
  redirectToSite(data.erpnext_url);
  out({ event: 'status:completed', data }); // harness
  completed = true; // harness
  finish(); // harness
});

provisioningSocket.on('status:failed', (data) => {
  console.error('Provisioning failed:', data.error);
  showError(data.error);
  out({ event: 'status:failed', data }); // harness
  completed = true; // harness
  finish(); // harness
});

// Notifications
const notificationsSocket = io(HOST + '/ws/notifications', {
  path: '/socket.io',
  auth: {
    token: localStorage.getItem('access_token')
  }
});

notificationsSocket.on('notification:new', (data) => {
  showNotification(data.title, data.message, data.type);
  out({ event: 'notification:new', data }); // harness
  notes += 1; // harness
  live = live || ready; // harness
  // Mark notification as read
  notificationsSocket.emit('notification_read', {
    notification_id: data.id // placeholder 'uuid-here': the notification's id
  });
});

// harness from here on
notificationsSocket.on('notification_read_confirmed', (data) => {
  out({ event: 'notification_read_confirmed', data });
  confirmed += 1;
  finish();
});
socket.on('pong', (...args) => out({ event: 'pong', args }));
// The Flutter client's one socket (`/ws`) listening for the provisioning events.
for (const event of ['status:update', 'status:completed']) {
  socket.on(event, (data) => out({ event, on: 'root', data }));
}
// Notifications: those unread from before (sent on connect) and the test's, each marked read.
let notes = 0;
let confirmed = 0;
let ready = false;
let live = false;
let completed = false;
let finished = false;
function finish() {
  if (finished || !live || confirmed < notes || !completed) return;
  finished = true;
  // Had the root socket been sent the provisioning events, they would be in before this answer.
  socket.emitWithAck('echo', { n: 1 }).then(() => {
    out({ done: true });
    for (const s of [socket, provisioningSocket, notificationsSocket]) s.close();
  });
}
const welcomed = (s) => new Promise((resolve) => s.once('connected', resolve));
await Promise.all([welcomed(socket), welcomed(provisioningSocket), welcomed(notificationsSocket)]);
socket.emit('ping');
socket.emit('no_such_event', {}); // an error event, for its message
// Each connection's events are handled in order: once echo is answered, the above were too.
await Promise.all([socket, provisioningSocket, notificationsSocket].map((s) => s.emitWithAck('echo', { n: 0 })));
ready = true;
out({ ready: true });
