// The open room: header, the message log (older history loads when scrolled to the top), who is typing,
// and the composer. Only thread roots are listed here; replies live in the thread panel.
import { h, replace } from '../core/dom.js'
import { renderMessage } from './message.js'
import { KeyedList } from './keyedlist.js'
import { composer } from './composer.js'

const PAGE = 50
const NEAR_TOP_PX = 80
const NEAR_BOTTOM_PX = 120

export class RoomView {
  /** `chat` is the ChatApp (store, socket, actions, title/room helpers). */
  constructor (chat, room) {
    this.chat = chat
    this.room = room
    this.loading = false
    const store = chat.store
    this.log = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
      'aria-label': `messages in ${chat.title(room)}` })
    this.scroller = h('div', { class: 'scroller' }, h('p', { class: 'history-start', hidden: true },
      'This is the beginning of the conversation.'), this.log)
    this.typingLine = h('p', { class: 'typing', 'aria-live': 'polite' })
    this.list = new KeyedList(this.log, (m) => renderMessage(m, { ...this.context(), replies: this.replies(m.id) }),
      (m) => JSON.stringify([m.updated_at, m.reactions, m.is_deleted, m.pending, this.replies(m.id),
        store.online.has(m.user.id)]))
    this.node = h('section', { class: 'room', 'aria-labelledby': 'room-title' },
      h('header', { class: 'room-header' },
        h('h2', { id: 'room-title' }, chat.title(room)),
        room.description ? h('p', { class: 'room-desc' }, room.description) : null,
        room.kind === 'channel'
          ? h('button', { type: 'button', class: 'subtle', onclick: () => chat.leaveRoom(room) }, 'Leave room')
          : null),
      this.scroller, this.typingLine,
      composer({ label: `Message ${chat.title(room)}`, placeholder: `Message ${chat.title(room)}`,
        send: (body) => chat.sendMessage(room.id, body),
        typing: (isTyping) => chat.socket.send({ type: 'typing', room_id: room.id, is_typing: isTyping }) }))
    this.scroller.addEventListener('scroll', () => {
      if (this.scroller.scrollTop < NEAR_TOP_PX) this.loadOlder()
      if (this.atBottom()) chat.markRead(room.id)
    })
    this.unsubscribe = [
      store.on('message', (m) => { if (m.room_id === room.id) this.render() }),
      store.on('presence', () => this.render()),
      store.on('typing', (roomId) => { if (roomId === room.id) this.renderTyping() })
    ]
  }

  context () {
    return { me: this.chat.store.me, online: this.chat.store.online, actions: this.chat.actions }
  }

  replies (rootId) {
    let count = 0
    for (const m of this.chat.store.roomMessages(this.room.id).values()) if (m.thread_root_id === rootId) count++
    return count
  }

  atBottom () {
    const s = this.scroller
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX
  }

  /** Re-render the log; keeps the reader's place (at the bottom: follow new messages). */
  render () {
    const follow = this.atBottom()
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop
    const roots = this.chat.store.ordered(this.room.id).filter((m) => !m.thread_root_id)
    this.list.update(roots)
    this.scroller.querySelector('.history-start').hidden = this.chat.store.oldest.get(this.room.id) !== null
    if (follow) this.scroller.scrollTop = this.scroller.scrollHeight
    else this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom
    if (follow && document.visibilityState === 'visible') this.chat.markRead(this.room.id)
  }

  renderTyping () {
    const names = [...(this.chat.store.typing.get(this.room.id) || new Map()).values()]
    replace(this.typingLine, names.length === 0 ? ''
      : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`)
  }

  /** The newest page on open; afterwards pages before the oldest loaded seq. */
  async loadOlder () {
    const store = this.chat.store
    const oldest = store.oldest.get(this.room.id)
    if (this.loading || oldest === null) return
    this.loading = true
    try {
      const query = { limit: PAGE }
      if (oldest !== undefined) query.before_seq = oldest
      const page = await this.chat.api(`/rooms/${this.room.id}/messages`, { query })
      store.addHistory(this.room.id, page.items, page.items.length < PAGE || (page.items[0] && page.items[0].seq <= 1))
      if (page.items.length) this.chat.socket.seen(this.room.id, page.items.at(-1).seq)
      this.render()
      if (oldest === undefined) this.scroller.scrollTop = this.scroller.scrollHeight
    } finally {
      this.loading = false
    }
    if (this.scroller.scrollHeight <= this.scroller.clientHeight) this.loadOlder() // fill a tall window
  }

  focus () {
    this.node.querySelector('.compose-input').focus()
  }

  destroy () {
    for (const off of this.unsubscribe) off()
  }
}
