// The Node stack's canonical emitter: @socket.io/redis-emitter from a separate process.
// Usage: node emitter.js REDIS_URL EVENTS RATE (RATE 0 = as fast as possible). Each event is
// {n, t} with t the send time in ms since the epoch (fractional).
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
  for (let n = 0; n < events; n++) {
    if (rate > 0) {
      // Yield to the event loop before every event (the Redis client writes only then), and
      // sleep while more than 2 ms early; spin the rest.
      const target = start + (n * 1000) / rate;
      await new Promise((r) => setImmediate(r));
      for (let wait = target - now(); wait > 0; wait = target - now()) {
        if (wait > 2) await new Promise((r) => setTimeout(r, wait - 1));
        else await new Promise((r) => setImmediate(r));
      }
    }
    emitter.to("bench").emit("bench", { n, t: now() });
    if (rate === 0 && n % 100 === 99) await new Promise((r) => setImmediate(r));
  }
  await client.ping(); // every PUBLISH before it has been written and answered
  console.log(JSON.stringify({ events, elapsed_ms: now() - start }));
  await client.quit();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
