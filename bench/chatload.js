// WebSocket load generator for bench/chat.py (node + ws: one process drives thousands of sockets
// without saturating a core the way a Python client would).
//
//   node bench/chatload.js plan.json  → prints one JSON line of results
//
// plan: {url, conns: [{token, room, sender, url?}], mode: "closed"|"paced"|"idle", window, rate_per_sender,
//        warmup_s, duration_s, connect_concurrency}
// Each socket joins its room (join_room, waits for the reply carrying its ref). Senders put a
// high-resolution timestamp in the content; every receiver computes send→deliver latency from it
// (same process, same clock). Ack latency is measured at the sender. "idle" only connects, joins,
// reports {connected} and waits for SIGTERM.
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const run = Math.random().toString(36).slice(2, 8);  // client_msg_ids unique across runs
const now = () => Number(process.hrtime.bigint()) / 1e6;  // ms

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

let measuring = false;
const deliverLat = [];
const ackLat = [];
let delivered = 0, acked = 0, errors = 0, sent = 0;

function open(spec, index) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${spec.url || plan.url}?token=${spec.token}`, { perMessageDeflate: false });
    const state = { ws, spec, index, seq: 0, inflight: new Map() };
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'join_room', room_id: spec.room, ref: 'join' })));
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"new_message"')) {
        const frame = JSON.parse(text);
        if (measuring) {
          delivered++;
          const t = parseFloat(frame.message.content);
          if (!Number.isNaN(t)) deliverLat.push(now() - t);
        }
        return;
      }
      const frame = JSON.parse(text);
      if (frame.ref === 'join') { resolve(state); return; }
      if (frame.type === 'ack') {
        const started = state.inflight.get(frame.ref);
        state.inflight.delete(frame.ref);
        if (measuring && started !== undefined) { acked++; ackLat.push(now() - started); }
        if (plan.mode === 'closed' && state.running) sendOne(state);
      } else if (frame.type === 'error') {
        errors++;
        if (plan.mode === 'closed' && state.running) setTimeout(() => sendOne(state), 10);
      }
    });
  });
}

function sendOne(state) {
  const ref = `${run}-${state.index}-${state.seq++}`;
  state.inflight.set(ref, now());
  if (measuring) sent++;
  state.ws.send(JSON.stringify({ type: 'send_message', room_id: state.spec.room, content: String(now()),
                                 client_msg_id: ref, ref }));
}

async function connectAll() {
  const states = new Array(plan.conns.length);
  let next = 0;
  async function worker() {
    while (next < plan.conns.length) {
      const i = next++;
      states[i] = await open(plan.conns[i], i);
    }
  }
  await Promise.all(Array.from({ length: plan.connect_concurrency || 50 }, worker));
  return states;
}

(async () => {
  const started = now();
  const states = await connectAll();
  const connectS = (now() - started) / 1000;
  if (plan.mode === 'idle') {
    process.stdout.write(JSON.stringify({ connected: states.length, connect_s: connectS }) + '\n');
    process.on('SIGTERM', () => process.exit(0));
    setInterval(() => {}, 1 << 30);
    return;
  }
  const senders = states.filter((s) => s.spec.sender);
  const timers = [];
  for (const s of senders) {
    s.running = true;
    if (plan.mode === 'closed') {
      for (let i = 0; i < (plan.window || 1); i++) sendOne(s);
    } else {
      const period = 1000 / plan.rate_per_sender;
      setTimeout(() => timers.push(setInterval(() => sendOne(s), period)), Math.random() * period);
    }
  }
  await new Promise((r) => setTimeout(r, plan.warmup_s * 1000));
  measuring = true;
  process.stdout.write(JSON.stringify({ phase: 'measuring' }) + '\n');
  const t0 = now();
  await new Promise((r) => setTimeout(r, plan.duration_s * 1000));
  measuring = false;
  const seconds = (now() - t0) / 1000;
  for (const s of senders) s.running = false;
  timers.forEach(clearInterval);
  deliverLat.sort((a, b) => a - b);
  ackLat.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({
    phase: 'done', connections: states.length, senders: senders.length, connect_s: connectS, seconds,
    sent, acked, delivered, errors, deliveries_per_s: delivered / seconds,
    deliver_p50_ms: percentile(deliverLat, 0.5), deliver_p99_ms: percentile(deliverLat, 0.99),
    ack_p50_ms: percentile(ackLat, 0.5), ack_p99_ms: percentile(ackLat, 0.99),
  }) + '\n');
  for (const s of states) s.ws.terminate();
  process.exit(0);
})().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
