// Seed 002's client code as the seed writes it (shared/seeds/002, "Client-Side"), with its
// placeholders filled (the server's URL, a real API token) and two additions for the test
// harness, marked below: a line of JSON on stdout per event, and an `echo` call after the
// subscribe (a connection's events are handled in order, so its answer says the subscribe was
// handled). The seed's unsubscribe runs once the job has ended, not right after subscribing.
import io from 'socket.io-client';

const SERVER_URL = process.env.SERVER_URL;
const TOKEN = process.env.TOKEN;
const out = (line) => console.log(JSON.stringify(line)); // harness

// Connect with authentication token
const socket = io(SERVER_URL, {
  query: {
    token: TOKEN
  }
});

// Subscribe to project updates
socket.emit('subscribe_project', { project_id: 'project_456' });
socket.emit('echo', { n: 1 }, (ack) => out({ ready: ack && ack.ok })); // harness

// Listen for agent status changes
socket.on('agent_status', (data) => {
  console.log(`Job ${data.job_id} status: ${data.status}`);
  if (data.result) {
    console.log('Result:', data.result);
  }
  out({ event: 'agent_status', data }); // harness
  if (data.status === 'success') {
    // Unsubscribe when done
    socket.emit('unsubscribe_project', { project_id: 'project_456' }, (ack) => {
      out({ unsubscribed: ack }); // harness
      socket.close();
    });
  }
});

// Listen for progress updates
socket.on('agent_progress', (data) => {
  console.log(`Job ${data.job_id} progress: ${data.progress}%`);
  if (data.message) {
    console.log('Message:', data.message);
  }
  out({ event: 'agent_progress', data }); // harness
});

// Handle errors
socket.on('error', (data) => {
  console.error('Error:', data.message);
  out({ error: data }); // harness
});
