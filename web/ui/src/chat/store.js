// What the chat screen knows: rooms (ordered by activity), loaded messages per room, who is online and
// typing. Socket frames and REST answers go in through the methods; views listen to the events.
import { Emitter } from '../core/emitter.js'

export class ChatStore extends Emitter {
  constructor (me) {
    super()
    this.me = me
    this.rooms = new Map() // id -> room (the room object of docs/protocol.md, plus .title for DMs)
    this.messages = new Map() // room_id -> Map(message id -> message)
    this.oldest = new Map() // room_id -> lowest seq loaded (null when the beginning is reached)
    this.online = new Set()
    this.typing = new Map() // room_id -> Map(user_id -> username)
    this.activeRoom = null
  }

  setRooms (rooms) {
    this.rooms = new Map(rooms.map((room) => [room.id, { ...this.rooms.get(room.id), ...room }]))
    this.emit('rooms')
  }

  upsertRoom (room) {
    this.rooms.set(room.id, { ...this.rooms.get(room.id), ...room })
    this.emit('rooms')
  }

  removeRoom (roomId) {
    this.rooms.delete(roomId)
    this.messages.delete(roomId)
    this.emit('rooms')
  }

  /** Rooms by latest activity, as the server orders them. */
  sortedRooms () {
    return [...this.rooms.values()].sort((a, b) => (b.last_activity_at || '').localeCompare(a.last_activity_at || ''))
  }

  roomMessages (roomId) {
    if (!this.messages.has(roomId)) this.messages.set(roomId, new Map())
    return this.messages.get(roomId)
  }

  /** Messages of a room in seq order (the order every client shows). */
  ordered (roomId) {
    return [...this.roomMessages(roomId).values()].sort((a, b) => a.seq - b.seq)
  }

  /** A page of history (REST), older than what is loaded. */
  addHistory (roomId, page, reachedStart) {
    const map = this.roomMessages(roomId)
    for (const message of page) map.set(message.id, message)
    this.oldest.set(roomId, reachedStart ? null : (page.length ? page[0].seq : this.oldest.get(roomId)))
    if (page.length && this.preview(page[page.length - 1])) this.emit('rooms')
    this.emit('history', roomId, page)
  }

  /** Make `message` its room's preview if it is the newest seen (a room joined from the list has none). */
  preview (message) {
    const room = this.rooms.get(message.room_id)
    if (!room || (room.last_message && room.last_message.seq >= message.seq)) return false
    room.last_message = { seq: message.seq, user: message.user, snippet: message.content.slice(0, 140),
      created_at: message.created_at }
    return true
  }

  /** A new or changed message (live, replayed, or our own ack). Returns true when it was new. */
  putMessage (message) {
    const map = this.roomMessages(message.room_id)
    const isNew = !map.has(message.id)
    map.set(message.id, message)
    const room = this.rooms.get(message.room_id)
    let changed = this.preview(message)
    if (isNew && room && message.seq > (room.last_seq || 0)) {
      room.last_seq = message.seq
      room.last_activity_at = message.created_at
      const mine = message.user.id === this.me.id
      const seen = this.activeRoom === message.room_id && document.visibilityState === 'visible'
      if (!mine && !seen) room.unread_count = (room.unread_count || 0) + 1
      changed = true
    }
    if (changed) this.emit('rooms')
    this.emit('message', message, isNew)
    return isNew
  }

  /** Reaction frames carry only (message, user, emoji): apply them to the loaded copy. */
  react (frame) {
    const message = this.roomMessages(frame.room_id).get(frame.message_id)
    if (!message) return
    const users = new Set(message.reactions[frame.emoji] || [])
    if (frame.type === 'reaction_added') users.add(frame.user_id)
    else users.delete(frame.user_id)
    const reactions = { ...message.reactions, [frame.emoji]: [...users] }
    if (!users.size) delete reactions[frame.emoji]
    this.putMessage({ ...message, reactions })
  }

  markRead (roomId) {
    const room = this.rooms.get(roomId)
    if (room && room.unread_count) {
      room.unread_count = 0
      this.emit('rooms')
    }
  }

  setTyping (roomId, user, isTyping) {
    if (!this.typing.has(roomId)) this.typing.set(roomId, new Map())
    const users = this.typing.get(roomId)
    if (isTyping) users.set(user.id, user.display_name || user.username)
    else users.delete(user.id)
    this.emit('typing', roomId)
  }

  setOnline (userId, isOnline) {
    if (isOnline) this.online.add(userId)
    else this.online.delete(userId)
    this.emit('presence', userId)
  }
}
