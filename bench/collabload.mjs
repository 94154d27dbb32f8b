// Yjs load generator for bench/collab.py: real Yjs documents behind real providers, many clients in one
// node process (one process drives them all without saturating a core the way a Python client would).
//
//   node bench/collabload.mjs plan.json   → JSON lines on stdout; reads "go" on stdin
//
// plan: {protocol: "y-websocket"|"hocuspocus", docs: [{url, room, params}], clients, mode: "paced"|"closed",
//        rate, updates, timeout_s}
// y-websocket: WebsocketProvider(url, room, doc, {params}) → url/room?params (Confab's /yjs/<id>?token=,
// the Node y-websocket server, pycrdt-websocket); hocuspocus: HocuspocusProvider({url, name: room}).
// Every client inserts ``updates`` small strings at the end of the shared Y.Text `content`, each
// "[client.seq@t]" with t the send time on this process's clock; every other client of the document
// takes its latency when the insert is integrated into its own Y.Doc (a remote transaction).
//   paced:  each client inserts every 1/rate s (random phase), ``updates`` times.
//   closed: each client keeps one insert in flight: its next insert goes out once its previous one
//           has reached every other client of the document (the same rule for every server: no
//           protocol acks involved).
// Prints {"phase":"ready"} once every client is synced, waits for "go" on stdin (the caller reads the
// server's CPU), runs, prints {"phase":"done", ...} and exits when stdin closes. Bounded by timeout_s:
// what has not arrived by then counts as missing.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider } from '@hocuspocus/provider'
import WebSocket from 'ws'
import fs from 'node:fs'
import readline from 'node:readline'

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
process.setMaxListeners(0) // every y-websocket provider adds an 'exit' listener
const now = () => Number(process.hrtime.bigint()) / 1e6 // ms
const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n')
const TOKEN = /\[(\d+)\.(\d+)@([\d.]+)\]/g

const clients = []
const pending = new Map() // "client.seq" → clients still to see it
const latencies = []
let seen = 0
let sent = 0
let lastSeenAt = 0
let finish = null

function connect (spec, index) {
  const doc = new Y.Doc()
  const provider = plan.protocol === 'hocuspocus'
    ? new HocuspocusProvider({ url: spec.url, name: spec.room, document: doc, WebSocketPolyfill: WebSocket })
    : new WebsocketProvider(spec.url, spec.room, doc,
      { WebSocketPolyfill: WebSocket, params: spec.params || {}, disableBc: true })
  const client = { index, doc, provider, text: doc.getText('content'), seq: 0, peers: null }
  doc.on('afterTransaction', (transaction) => {
    if (!transaction.local) seenRemote(doc, transaction)
  })
  client.synced = new Promise((resolve) => {
    const done = (synced) => { if (synced === undefined || synced === true || synced?.state) resolve() }
    if (plan.protocol === 'hocuspocus') provider.on('synced', done)
    else provider.on('sync', done)
  })
  return client
}

// The strings a remote transaction integrated: each client's structs above its clock before the
// transaction, read from the end of its struct list (O(new content); a text observer's delta walks the
// whole text at every event, which made this process the bottleneck on a hot document).
function seenRemote (doc, transaction) {
  const at = now()
  transaction.afterState.forEach((clock, client) => {
    const before = transaction.beforeState.get(client) || 0
    if (clock <= before) return
    const structs = doc.store.clients.get(client)
    for (let i = structs.length - 1; i >= 0 && structs[i].id.clock + structs[i].length > before; i--) {
      const str = structs[i].content?.str
      if (typeof str !== 'string') continue
      for (const [, sender, seq, t] of str.slice(Math.max(0, before - structs[i].id.clock)).matchAll(TOKEN)) {
        arrived(`${sender}.${seq}`, at - parseFloat(t), at)
      }
    }
  })
}

function arrived (key, latency, at) {
  const entry = pending.get(key)
  if (!entry) return // a duplicate or one from before the start
  latencies.push(latency)
  seen++
  lastSeenAt = at
  if (--entry.remaining > 0) return
  pending.delete(key)
  const sender = clients[entry.sender]
  if (plan.mode === 'closed' && sender.seq < plan.updates) setImmediate(() => insert(sender))
  if (pending.size === 0 && sent === clients.length * plan.updates && finish) finish()
}

function insert (client) {
  const key = `${client.index}.${client.seq++}`
  pending.set(key, { remaining: client.peers, sender: client.index })
  sent++
  client.text.insert(client.text.length, `[${key}@${now().toFixed(3)}]`)
}

function percentile (sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null
}

async function main () {
  for (const spec of plan.docs) {
    for (let c = 0; c < plan.clients; c++) clients.push(connect(spec, clients.length))
  }
  for (const client of clients) client.peers = plan.clients - 1
  const syncDeadline = setTimeout(() => { emit({ phase: 'error', error: 'clients not synced in 60 s' }); process.exit(1) }, 60000)
  await Promise.all(clients.map((c) => c.synced))
  clearTimeout(syncDeadline)
  const lines = readline.createInterface({ input: process.stdin })
  emit({ phase: 'ready', clients: clients.length })
  await new Promise((resolve) => lines.once('line', resolve))
  const cpu0 = process.cpuUsage()
  const started = now()
  const timers = []
  const over = new Promise((resolve) => {
    finish = resolve
    timers.push(setTimeout(resolve, plan.timeout_s * 1000))
  })
  for (const client of clients) {
    if (plan.mode === 'closed') { insert(client); continue }
    const period = 1000 / plan.rate
    timers.push(setTimeout(() => {
      insert(client)
      const every = setInterval(() => { if (client.seq < plan.updates) insert(client); else clearInterval(every) }, period)
      timers.push(every)
    }, Math.random() * period))
  }
  await over
  const ended = now()
  timers.forEach(clearTimeout)
  timers.forEach(clearInterval)
  const cpu = process.cpuUsage(cpu0)
  latencies.sort((a, b) => a - b)
  const expected = sent * (plan.clients - 1)
  const elapsed = ((pending.size ? ended : lastSeenAt) - started) / 1000
  emit({
    phase: 'done', sent, expected_deliveries: expected, deliveries: seen, missing: expected - seen,
    complete: sent === clients.length * plan.updates && seen === expected, elapsed_s: elapsed,
    updates_per_s: sent / elapsed, deliveries_per_s: seen / elapsed,
    p50_ms: percentile(latencies, 0.5), p99_ms: percentile(latencies, 0.99), max_ms: latencies.at(-1) ?? null,
    generator_cpu_s: (cpu.user + cpu.system) / 1e6
  })
  lines.once('close', () => process.exit(0))
  setTimeout(() => process.exit(0), 30000)
}

main().catch((e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1) })
