// The Node stack's canonical emitter: @socket.io/redis-emitter from a separate process.
// Usage: node emitter.js REDIS_URL EVENTS RATE (RATE 0 = as fast as possible). Each event is
// {n, text} with text the send time in ms since the epoch, as a string: the same application
// payload every stack's emitter sends (bench/emitters.py).
"use strict";
const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

const now = () => performance.timeOrigin + performance.now();

async function main() {
  const [redisUrl, events, rate] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
  const client = createClient({ url: redisUrl });
  await client.connect();
  const emitter = new Emitter(client);
  const start = now();
  const cpu0 = process.cpuUsage();
  for (let n = 0; n < events; n++) {
    if (rate > 0) {
      // Sleep until the event is due, never spin (a spinning emitter takes a core from the
      // server or the load client on a 2-core machine); an oversleep (timers have 1 ms
      // granularity) is caught up by sending what is due at once, so the rate is kept. The Redis
      // client writes when the loop gets control, i.e. at each sleep.
      const wait = start + (n * 1000) / rate - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    emitter.to("bench").emit("bench", { n, text: String(now()) });
    if (rate === 0 && n % 100 === 99) await new Promise((r) => setImmediate(r));
  }
  await client.ping(); // every PUBLISH before it has been written and answered
  const cpu = process.cpuUsage(cpu0);
  console.log(JSON.stringify({ events, elapsed_ms: now() - start, cpu_ms: (cpu.user + cpu.system) / 1000 }));
  await client.quit();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
