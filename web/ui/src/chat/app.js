// The chat screen's controller: loads rooms, keeps every room joined on one socket, turns server frames
// into store changes, and carries out the user's actions.
import { h, replace, announce, nameOf } from '../core/dom.js'
import { api } from '../core/api.js'
import { ChatStore } from './store.js'
import { ChatSocket } from './socket.js'
import { Sidebar } from './sidebar.js'
import { RoomView } from './roomview.js'
import { ThreadPanel } from './thread.js'
import { Notifications } from './notifications.js'
import { profileDialog } from './profile.js'

const ROOM_POLL_MS = 30_000

const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
  : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
    (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16)))

export class ChatApp {
  /** `onLink(state)` reports the socket state for the top bar ('connecting' | 'open' | 'offline'). */
  constructor (me, onLink) {
    this.api = api
    this.store = new ChatStore(me)
    this.readSent = new Map()
    this.sidebar = new Sidebar(this)
    this.notifications = new Notifications(this)
    this.main = h('div', { class: 'chat-main' })
    this.threadSlot = h('div', { class: 'thread-slot' })
    this.node = h('div', { class: 'chat-layout' }, this.sidebar.node, this.main, this.threadSlot)
    this.view = null
    this.thread = null
    this.actions = {
      react: (m, emoji, add) => this.request({ type: add ? 'add_reaction' : 'remove_reaction', message_id: m.id, emoji }),
      thread: (m) => this.openThread(m),
      edit: (m, content) => this.request({ type: 'edit_message', message_id: m.id, new_content: content }),
      remove: (m) => this.request({ type: 'delete_message', message_id: m.id }),
      profile: (user) => profileDialog(this, user)
    }
    this.socket = new ChatSocket({ onFrame: (f) => this.onFrame(f),
      onState: (state) => this.linkChanged(state, onLink) })
    this.ready = this.loadRooms()
    // rooms others put us in (a new DM) announce themselves by notification; this catches them without one,
    // and people who came online in rooms we share only later
    this.poll = setInterval(() => { this.refreshRooms().catch(() => {}); this.refreshOnline() }, ROOM_POLL_MS)
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.store.activeRoom) this.markRead(this.store.activeRoom)
    })
  }

  linkChanged (state, onLink) {
    onLink(state)
    this.store.setOnline(this.store.me.id, state === 'open') // the server tells others, never ourselves
    if (state === 'open' && this.ready) this.ready.then(() => this.refreshRooms()).catch(() => {})
  }

  title (room) {
    return room.kind === 'dm' ? (room.peer ? nameOf(room.peer) : 'Direct message') : room.name
  }

  /** The room as text: "# name" for a public channel, the bare title for private rooms and DMs. */
  label (room) { return `${room.kind === 'channel' && !room.is_private ? '# ' : ''}${this.title(room)}` }

  async loadRooms () {
    const [page] = await Promise.all([api('/rooms', { query: { limit: 200 } }), this.refreshOnline()])
    await Promise.all(page.items.filter((r) => r.kind === 'dm').map((room) => this.findPeer(room)))
    this.store.setRooms(page.items)
    for (const room of page.items) this.socket.join(room.id, room.last_seq)
  }

  /** Who is online: `user_status` frames only cover people who shared a room with us when they connected. */
  async refreshOnline () {
    const online = await api('/users/online', { query: { limit: 200 } }).catch(() => null)
    if (!online) return
    const ids = new Set(online.items.map((u) => u.id))
    if (this.socket && this.socket.isOpen()) ids.add(this.store.me.id)
    for (const id of new Set([...ids, ...this.store.online])) this.store.setOnline(id, ids.has(id))
  }

  async findPeer (room) {
    const members = await api(`/rooms/${room.id}/members`, { query: { limit: 2 } }).catch(() => ({ items: [] }))
    const other = members.items.find((m) => m.user.id !== this.store.me.id)
    room.peer = other ? other.user : null
  }

  onFrame (frame) {
    const store = this.store
    switch (frame.type) {
      case 'new_message':
        if (frame.message.user.id === store.me.id && frame.message.client_msg_id) {
          store.roomMessages(frame.message.room_id).delete(`pending-${frame.message.client_msg_id}`)
        }
        store.putMessage(frame.message)
        if (!store.rooms.has(frame.message.room_id)) this.refreshRooms()
        break
      case 'message_edited':
      case 'message_deleted':
        if (frame.message) store.putMessage(frame.message)
        break
      case 'reaction_added':
      case 'reaction_removed':
        store.react(frame)
        break
      case 'user_typing':
        store.setTyping(frame.room_id, frame.user, frame.is_typing)
        break
      case 'user_status':
        store.setOnline(frame.user_id, frame.status === 'online')
        break
      case 'user_statuses': // one tick's changes at once (we ask for presence=batched)
        for (const change of frame.users) store.setOnline(change.user_id, change.status === 'online')
        break
      case 'user_joined':
        if (frame.user && frame.user.id !== store.me.id) this.refreshOnline()
        else if (frame.user && !store.rooms.has(frame.room_id)) this.refreshRooms() // invited by someone
        break
      case 'read_receipt':
        if (frame.user_id === store.me.id) store.markRead(frame.room_id)
        break
      case 'notification':
        this.notifications.add(frame.notification)
        if (frame.notification.room_id && !store.rooms.has(frame.notification.room_id)) this.refreshRooms()
        break
      case 'error':
        if (!frame.ref) announce(frame.error.message, 'error')
        break
    }
  }

  /** Someone started a DM with us or added us to a room: pick up rooms we do not know yet. */
  async refreshRooms () {
    const page = await api('/rooms', { query: { limit: 200 } })
    for (const room of page.items.filter((r) => !this.store.rooms.has(r.id))) {
      if (room.kind === 'dm') await this.findPeer(room)
      this.store.upsertRoom(room)
      this.socket.join(room.id, room.last_seq)
    }
  }

  request (frame) {
    return this.socket.request(frame).catch((err) => announce(err.message, 'error'))
  }

  /** Send; the message shows as pending until the server's ack (sent only once it is stored). */
  async sendMessage (roomId, { content, attachments = [], reply_to_id: replyTo = null }) {
    const clientMsgId = uuid()
    const pendingId = `pending-${clientMsgId}`
    const store = this.store
    const pending = { id: pendingId, room_id: roomId, seq: Number.MAX_SAFE_INTEGER, user: store.me, content,
      attachments: [], reactions: {}, pending: true, created_at: new Date().toISOString(), updated_at: '',
      thread_root_id: replyTo ? (store.roomMessages(roomId).get(replyTo)?.thread_root_id || replyTo) : null }
    store.roomMessages(roomId).set(pendingId, pending)
    store.emit('message', pending, true)
    const frame = { type: 'send_message', room_id: roomId, content, client_msg_id: clientMsgId, attachments }
    if (replyTo) frame.reply_to_id = replyTo
    try {
      const ack = await this.socket.request(frame)
      store.roomMessages(roomId).delete(pendingId)
      store.putMessage(ack.message)
    } catch (err) {
      store.roomMessages(roomId).delete(pendingId)
      store.emit('message', pending, false)
      throw err
    }
  }

  markRead (roomId) {
    const room = this.store.rooms.get(roomId)
    if (!room || !room.last_seq || this.readSent.get(roomId) >= room.last_seq) return
    this.readSent.set(roomId, room.last_seq)
    this.socket.send({ type: 'read', room_id: roomId, seq: room.last_seq })
    this.store.markRead(roomId)
  }

  addRoom (room) {
    this.store.upsertRoom(room)
    this.socket.join(room.id, room.last_seq)
    location.hash = `#/chat/${room.id}`
  }

  async openDm (user) {
    try {
      const room = await api(`/dms/${user.id}`, { method: 'POST' })
      this.addRoom({ ...room, peer: user })
    } catch (err) { announce(err.message, 'error') }
  }

  async leaveRoom (room) {
    if (!confirm(`Leave ${this.title(room)}?`)) return
    try {
      await api(`/rooms/${room.id}/leave`, { method: 'POST' })
      this.socket.leave(room.id)
      this.store.removeRoom(room.id)
      location.hash = '#/chat'
    } catch (err) { announce(err.message, 'error') }
  }

  /** Show a room (the router calls this for #/chat/<id>); `messageId` focuses one message once loaded. */
  async open (roomId, messageId = null) {
    await this.ready.catch(() => {})
    if (this.store.activeRoom === roomId && this.view) {
      if (messageId) await this.view.reveal(messageId)
      return
    }
    this.closeThread()
    if (this.view) this.view.destroy()
    let room = this.store.rooms.get(roomId)
    if (!room) {
      try { room = await api(`/rooms/${roomId}`) } catch (err) { announce(err.message, 'error'); return }
      if (room.kind === 'dm') await this.findPeer(room)
      this.store.upsertRoom(room)
      this.socket.join(room.id, room.last_seq)
    }
    this.store.activeRoom = roomId
    this.store.emit('rooms')
    this.view = new RoomView(this, room)
    replace(this.main, this.view.node)
    this.node.classList.add('has-room')
    await this.view.loadOlder().catch((err) => announce(err.message, 'error'))
    this.markRead(roomId)
    if (messageId) await this.view.reveal(messageId)
    else this.view.focus()
  }

  showEmpty () {
    if (this.view) this.view.destroy()
    this.view = null
    this.store.activeRoom = null
    this.store.emit('rooms')
    this.node.classList.remove('has-room')
    replace(this.main, h('div', { class: 'empty-state' }, h('h2', {}, 'Pick a room'),
      h('p', {}, 'Choose a room on the left, browse public rooms, or start a direct message.')))
  }

  openThread (root) {
    this.closeThread()
    this.thread = new ThreadPanel(this, root, () => this.closeThread())
    replace(this.threadSlot, this.thread.node)
    this.node.classList.add('has-thread')
    this.thread.focus()
    return this.thread
  }

  closeThread () {
    if (!this.thread) return
    this.thread.destroy()
    this.thread = null
    replace(this.threadSlot)
    this.node.classList.remove('has-thread')
  }

  stop () {
    clearInterval(this.poll)
    this.socket.stop()
  }
}
