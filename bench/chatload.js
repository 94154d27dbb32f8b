// WebSocket load generator for bench/chat.py (node + ws: one process drives thousands of sockets
// without saturating a core the way a Python client would).
//
//   node bench/chatload.js plan.json  → prints JSON lines (events), see below
//
// plan: {url, conns: [{token, room, sender, url?}], mode: "closed"|"paced"|"storm", window,
//        rate_per_sender, content_bytes, warmup_s, duration_s, phases, connect_concurrency, idle_s,
//        give_up_s}
// Each socket joins its room (join_room, waits for the reply carrying its ref). Senders put a
// high-resolution timestamp at the start of the content (padded to ``content_bytes`` characters);
// every receiver computes send→deliver latency from it (same process, same clock). Ack latency is
// measured at the sender.
//
// closed/paced: after ``warmup_s``, each phase of ``phases`` ([{name, duration_s, pause}], default
// one phase of ``duration_s``) prints {"phase":"measuring","name"} and, at its end, {"phase":"done",
// ...figures of that phase}. A phase with ``pause: i`` first stops reading socket i (its TCP socket
// is paused: the kernel buffers fill, the server sees a reader that fell behind) and prints
// {"phase":"paused","local_port"}; the paused socket's deliveries are no longer counted.
// storm: every socket connects and joins with ``connect_concurrency`` handshakes in flight, prints
// {"phase":"joined", connect_s, connecting: {frames, frames_by_type}} (the frames received while
// connecting), counts every frame received during ``idle_s`` s of idleness, prints
// {"phase":"idle_done", frames, frames_by_type} and waits for SIGTERM.
// Every run stops by itself: a connect that is not joined in ``give_up_s`` counts as an error.
'use strict';
const fs = require('fs');
const WebSocket = require('ws');

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const run = Math.random().toString(36).slice(2, 8);  // client_msg_ids unique across runs
const now = () => Number(process.hrtime.bigint()) / 1e6;  // ms
const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const padding = 'x'.repeat(Math.max(0, (plan.content_bytes || 0) - 20));
const TYPE = /^\{"type":"([a-z_]+)"/;

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

let measuring = false;
let counting = false;  // storm: count every frame by type
const counts = { deliverLat: [], ackLat: [], delivered: 0, acked: 0, errors: 0, sent: 0 };
const framesByType = {};
let connectErrors = 0;

function resetCounts() {
  Object.assign(counts, { deliverLat: [], ackLat: [], delivered: 0, acked: 0, errors: 0, sent: 0 });
}

function open(spec, index) {
  return new Promise((resolve, reject) => {
    // as the web UI does: a tick's presence changes in one user_statuses frame (the bare server ignores it)
    const ws = new WebSocket(`${spec.url || plan.url}?presence=batched&token=${spec.token}`,
                             { perMessageDeflate: false, handshakeTimeout: (plan.give_up_s || 60) * 1000 });
    const state = { ws, spec, index, seq: 0, inflight: new Map(), paused: false };
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('not joined in time')); },
                             (plan.give_up_s || 60) * 1000);
    ws.on('error', (e) => { clearTimeout(timer); reject(e); });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'join_room', room_id: spec.room, ref: 'join' })));
    ws.on('message', (data) => {
      const text = data.toString();
      if (counting) {
        const m = TYPE.exec(text);
        const type = m ? m[1] : 'other';
        framesByType[type] = (framesByType[type] || 0) + 1;
      }
      if (text.startsWith('{"type":"new_message"')) {
        if (measuring && !state.paused) {
          counts.delivered++;
          const t = parseFloat(JSON.parse(text).message.content);
          if (!Number.isNaN(t)) counts.deliverLat.push(now() - t);
        }
        return;
      }
      const frame = JSON.parse(text);
      if (frame.ref === 'join') { clearTimeout(timer); resolve(state); return; }
      if (frame.type === 'ack') {
        const started = state.inflight.get(frame.ref);
        state.inflight.delete(frame.ref);
        if (measuring && started !== undefined) { counts.acked++; counts.ackLat.push(now() - started); }
        if (plan.mode === 'closed' && state.running) sendOne(state);
      } else if (frame.type === 'error') {
        counts.errors++;
        if (plan.mode === 'closed' && state.running) setTimeout(() => sendOne(state), 10);
      }
    });
  });
}

async function openRetrying(spec, index) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await open(spec, index);
    } catch (e) {
      connectErrors++;
      if (attempt >= 3) throw e;
      await sleep(100 * attempt);
    }
  }
}

function sendOne(state) {
  if (state.paused) return;
  const ref = `${run}-${state.index}-${state.seq++}`;
  state.inflight.set(ref, now());
  if (measuring) counts.sent++;
  state.ws.send(JSON.stringify({ type: 'send_message', room_id: state.spec.room,
                                 content: now().toFixed(3) + ' ' + padding, client_msg_id: ref, ref }));
}

async function connectAll() {
  const states = new Array(plan.conns.length);
  let next = 0;
  async function worker() {
    while (next < plan.conns.length) {
      const i = next++;
      states[i] = await openRetrying(plan.conns[i], i);
    }
  }
  await Promise.all(Array.from({ length: plan.connect_concurrency || 50 }, worker));
  return states;
}

function figures(seconds) {
  const deliverLat = counts.deliverLat.sort((a, b) => a - b);
  const ackLat = counts.ackLat.sort((a, b) => a - b);
  return {
    seconds, sent: counts.sent, acked: counts.acked, delivered: counts.delivered, errors: counts.errors,
    deliveries_per_s: counts.delivered / seconds, sent_per_s: counts.sent / seconds,
    deliver_p50_ms: percentile(deliverLat, 0.5), deliver_p99_ms: percentile(deliverLat, 0.99),
    ack_p50_ms: percentile(ackLat, 0.5), ack_p99_ms: percentile(ackLat, 0.99),
  };
}

function takeFrames() {
  const byType = { ...framesByType };
  for (const key of Object.keys(framesByType)) delete framesByType[key];
  return { frames: Object.values(byType).reduce((a, b) => a + b, 0), frames_by_type: byType };
}

async function storm() {
  counting = true;
  const started = now();
  const states = await connectAll();
  const connectS = (now() - started) / 1000;
  emit({ phase: 'joined', connected: states.length, connect_s: connectS, connect_errors: connectErrors,
         connecting: takeFrames() });
  await sleep((plan.idle_s || 10) * 1000);
  emit({ phase: 'idle_done', ...takeFrames() });
}

async function load() {
  const started = now();
  const states = await connectAll();
  const connectS = (now() - started) / 1000;
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
  await sleep(plan.warmup_s * 1000);
  for (const phase of plan.phases || [{ name: 'measure', duration_s: plan.duration_s }]) {
    if (phase.pause !== undefined) {
      const stuck = states[phase.pause];
      stuck.paused = true;
      stuck.ws._socket.pause();
      emit({ phase: 'paused', local_port: stuck.ws._socket.localPort });
    }
    resetCounts();
    measuring = true;
    emit({ phase: 'measuring', name: phase.name });
    const t0 = now();
    await sleep(phase.duration_s * 1000);
    measuring = false;
    emit({ phase: 'done', name: phase.name, connections: states.length, senders: senders.length,
           connect_s: connectS, connect_errors: connectErrors, ...figures((now() - t0) / 1000) });
  }
  for (const s of senders) s.running = false;
  timers.forEach(clearInterval);
  for (const s of states) s.ws.terminate();
}

(async () => {
  if (plan.mode === 'storm') {
    await storm();
    process.on('SIGTERM', () => process.exit(0));
    setTimeout(() => process.exit(0), 600 * 1000);  // bounded even if nobody stops it
    return;
  }
  await load();
  process.exit(0);
})().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
