// Seed 000's client code ("Client-Side Example", shared/seeds/000) as written, placeholders
// filled: the server ('http://your-server:5000'), the player's username ('your_username').
// First exactly as written, with no credentials: the server refuses it (credentials are
// required, docs/clients.md). Then the same code with `auth: {token}` added. Lines marked
// "harness" only report what the client saw, one JSON object a line, for the test to check.
import io from 'socket.io-client';

const SERVER = process.env.SERVER_URL;
const USERNAME = process.env.USERNAME;
const out = (line) => console.log(JSON.stringify(line)); // harness

function seedClient(options) {
  // Connect to SocketIO
  const socket = io(SERVER, options);

  // Join your username room
  socket.emit('join_room', { room: USERNAME });

  // Listen for job application completion
  socket.on('job_application_complete', (data) => {
    if (data.error) {
      console.error('Job application failed:', data.error);
    } else {
      console.log('Job application successful:', data.payload);
    }
    out({ event: 'job_application_complete', data }); // harness
  });

  // Listen for payment completion
  socket.on('payment_complete', (data) => {
    if (data.error) {
      console.error('Payment failed:', data.error);
    } else {
      console.log('Payment successful:', data.payload);
    }
    out({ event: 'payment_complete', data }); // harness
  });

  // Listen for liability updates
  socket.on('liabilities_offset_complete', (data) => {
    if (data.error) {
      console.error('Liability update failed:', data.error);
    } else {
      console.log('Liabilities updated:', data.payload);
    }
    out({ event: 'liabilities_offset_complete', data }); // harness
  });
  return socket;
}

// harness from here on
const asWritten = seedClient(undefined);
const refused = await new Promise((resolve) => {
  asWritten.on('connect', () => resolve({ connected: true }));
  asWritten.on('connect_error', (err) => resolve({ message: err.message, data: err.data }));
});
asWritten.close();
out({ as_written: refused });

const socket = seedClient({ auth: { token: process.env.TOKEN }, reconnection: false });
socket.on('error', (data) => out({ event: 'error', data }));
const wanted = { job_application_complete: 1, payment_complete: 2, liabilities_offset_complete: 1 };
socket.onAny((event) => {
  if (event in wanted) wanted[event] -= 1;
  if (Object.values(wanted).every((n) => n <= 0)) socket.close();
});
// A connection's events are handled in order: once echo is answered, join_room was handled.
socket.emit('echo', { n: 0 }, (ack) => out({ ready: ack.ok }));
