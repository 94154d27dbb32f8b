// The /ws connection: request/reply by `ref`, reconnect with backoff, and on every reconnect a re-join of
// each room with `since_seq` = the last seq seen, so the server replays exactly what was missed. Sends not
// acknowledged yet are resent with the same client_msg_id (the server deduplicates them).
import { socketUrl } from '../core/api.js'
import { accessToken, refresh } from '../core/session.js'

const REQUEST_TIMEOUT_MS = 15_000
const MAX_BACKOFF_MS = 15_000
const POLICY_VIOLATION = 1008

export class ChatSocket {
  /** `onFrame(frame)` sees every server frame; `onState('connecting'|'open'|'offline')` the link's state. */
  constructor ({ onFrame, onState }) {
    this.onFrame = onFrame
    this.onState = onState
    this.rooms = new Map() // room_id -> last seq seen (null: live only)
    this.pending = new Map() // ref -> {resolve, reject, frame, timer}
    this.nextRef = 1
    this.attempt = 0
    this.stopped = false
    this.ws = null
    this.reconnectNow = () => { if (!this.isOpen()) this.connect() }
    window.addEventListener('online', this.reconnectNow)
    this.connect()
  }

  isOpen () { return this.ws && this.ws.readyState === WebSocket.OPEN }

  connect () {
    clearTimeout(this.retryTimer)
    if (this.stopped) return
    if (this.ws) { this.ws.onclose = null; this.ws.close() }
    this.onState('connecting')
    const ws = new WebSocket(socketUrl(`/ws?token=${encodeURIComponent(accessToken() || '')}&presence=batched`))
    this.ws = ws
    ws.onopen = () => this.opened()
    ws.onmessage = (event) => this.received(JSON.parse(event.data))
    ws.onclose = (event) => this.closed(event.code)
  }

  opened () {
    this.onState('open')
    for (const [roomId, since] of this.rooms) this.write(joinFrame(roomId, since))
    for (const [ref, entry] of this.pending) this.write({ ...entry.frame, ref }) // unacked sends: same client_msg_id
  }

  async closed (code) {
    this.ws = null
    for (const [ref, entry] of this.pending) {
      if (entry.frame.type !== 'send_message') this.settle(ref, null, { code: 'NETWORK', message: 'connection lost' })
    }
    if (this.stopped) return
    this.onState('offline')
    if (code === POLICY_VIOLATION && !(await refresh())) return this.stop() // token over and not renewable
    const delay = code === POLICY_VIOLATION ? 0 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt)
    this.attempt += 1
    this.retryTimer = setTimeout(() => this.connect(), delay * (0.5 + Math.random() / 2))
  }

  received (frame) {
    this.attempt = 0
    if (frame.type === 'new_message') this.seen(frame.message.room_id, frame.message.seq)
    if (frame.ref && this.pending.has(frame.ref)) {
      this.settle(frame.ref, frame.type === 'error' ? null : frame, frame.type === 'error' ? frame.error : null)
    }
    this.onFrame(frame)
  }

  settle (ref, frame, error) {
    const entry = this.pending.get(ref)
    if (!entry) return
    this.pending.delete(ref)
    clearTimeout(entry.timer)
    if (error) entry.reject(Object.assign(new Error(error.message), error))
    else entry.resolve(frame)
  }

  write (frame) {
    if (this.isOpen()) this.ws.send(JSON.stringify(frame))
  }

  /** Send a frame and wait for the reply carrying its ref. Sends survive reconnects; others fail on a drop. */
  request (frame) {
    const ref = `r${this.nextRef++}`
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, frame }
      if (frame.type !== 'send_message') {
        entry.timer = setTimeout(() => this.settle(ref, null, { code: 'TIMEOUT', message: 'no answer' }),
          REQUEST_TIMEOUT_MS)
      }
      this.pending.set(ref, entry)
      this.write({ ...frame, ref })
    })
  }

  /** Fire and forget (typing, read). */
  send (frame) { this.write(frame) }

  /** Keep `roomId` joined on this socket (and on every reconnect). Nobody waits on the answer: a join
   * refused (a room one was removed from) or cut short by sign-out is dropped here, and the room list's
   * next refresh shows what is true. */
  join (roomId, sinceSeq = null) {
    if (!this.rooms.has(roomId) || sinceSeq !== null) this.rooms.set(roomId, sinceSeq)
    if (this.isOpen()) this.request(joinFrame(roomId, this.rooms.get(roomId))).catch(() => {})
  }

  leave (roomId) {
    this.rooms.delete(roomId)
    this.write({ type: 'leave_room', room_id: roomId })
  }

  /** Remember the highest seq seen in a room: the next (re)join asks for everything after it. */
  seen (roomId, seq) {
    if (!this.rooms.has(roomId)) return
    const last = this.rooms.get(roomId)
    if (last === null || seq > last) this.rooms.set(roomId, seq)
  }

  stop () {
    this.stopped = true
    clearTimeout(this.retryTimer)
    window.removeEventListener('online', this.reconnectNow)
    if (this.ws) { this.ws.onclose = null; this.ws.close() }
    for (const ref of [...this.pending.keys()]) this.settle(ref, null, { code: 'CLOSED', message: 'signed out' })
    this.onState('offline')
  }
}

function joinFrame (roomId, since) {
  return since === null || since === undefined
    ? { type: 'join_room', room_id: roomId }
    : { type: 'join_room', room_id: roomId, since_seq: since }
}
