// The open room: header, the message log (older history loads when scrolled to the top), who is typing,
// and the composer. Only thread roots are listed here; replies live in the thread panel.
import { icon } from '../core/icons.js'
import { h, replace, announce } from '../core/dom.js'
import { renderMessage } from './message.js'
import { KeyedList } from './keyedlist.js'
import { composer } from './composer.js'
import { membersDialog } from './members.js'

const PAGE = 50
const NEAR_TOP_PX = 80
const NEAR_BOTTOM_PX = 120
const REVEAL_MAX_PAGES = 40 // how far back a linked message is looked for (pages of PAGE)

export class RoomView {
  /** `chat` is the ChatApp (store, socket, actions, title/room helpers). */
  constructor (chat, room) {
    this.chat = chat
    this.room = room
    this.loading = null // the page being fetched
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
        room.kind === 'channel' && room.is_private ? h('span', { class: 'role' }, icon('lock'), 'Private') : null,
        room.description ? h('p', { class: 'room-desc' }, room.description) : null,
        room.kind === 'channel'
          ? h('div', { class: 'room-actions' },
            h('button', { type: 'button', class: 'subtle', 'aria-haspopup': 'dialog',
              onclick: () => membersDialog(chat, chat.store.rooms.get(room.id) || room) }, 'Members'),
            h('button', { type: 'button', class: 'subtle', onclick: () => chat.leaveRoom(room) }, 'Leave room'))
          : null),
      this.scroller, this.typingLine,
      composer({ label: `Message ${chat.title(room)}`, placeholder: `Message ${chat.title(room)}`,
        send: (body) => chat.sendMessage(room.id, body),
        typing: (isTyping) => chat.socket.send({ type: 'typing', room_id: room.id, is_typing: isTyping }) }))
    this.scroller.addEventListener('scroll', () => {
      if (this.scroller.scrollTop < NEAR_TOP_PX) this.loadOlder().catch((err) => announce(err.message, 'error'))
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

  /**
   * The newest page on open; afterwards the page before the oldest loaded seq, and more while the (shown)
   * log does not fill its window. A call while pages are being fetched waits for those.
   */
  loadOlder () {
    const oldest = this.chat.store.oldest.get(this.room.id)
    if (oldest === null) return Promise.resolve()
    if (!this.loading) {
      this.loading = this.fetchPage(oldest).finally(() => { this.loading = null }).then(() => {
        const { scrollHeight, clientHeight } = this.scroller
        if (clientHeight && scrollHeight <= clientHeight) return this.loadOlder()
      })
    }
    return this.loading
  }

  async fetchPage (oldest) {
    const store = this.chat.store
    const query = { limit: PAGE }
    if (oldest !== undefined) query.before_seq = oldest
    const page = await this.chat.api(`/rooms/${this.room.id}/messages`, { query })
    store.addHistory(this.room.id, page.items, page.items.length < PAGE || (page.items[0] && page.items[0].seq <= 1))
    if (page.items.length) this.chat.socket.seen(this.room.id, page.items.at(-1).seq)
    this.render()
    if (oldest === undefined) this.scroller.scrollTop = this.scroller.scrollHeight
  }

  /**
   * Scroll to a message and focus it (a search hit, a notification), loading older pages until it is
   * there; a thread reply opens its thread and is focused in the panel.
   */
  async reveal (messageId) {
    const store = this.chat.store
    const loaded = store.roomMessages(this.room.id)
    const more = () => !loaded.has(messageId) && store.oldest.get(this.room.id) !== null && this.chat.view === this
    for (let pages = 0; more() && pages < REVEAL_MAX_PAGES; pages++) await this.loadOlder()
    const message = loaded.get(messageId)
    if (!message) return announce('That message is not in this room any more.', 'error')
    let where = this.log
    if (message.thread_root_id) {
      const thread = this.chat.openThread(loaded.get(message.thread_root_id) || { id: message.thread_root_id, room_id: this.room.id })
      await thread.ready
      where = thread.node
    }
    const node = where.querySelector(`.msg[data-id="${messageId}"]`)
    if (!node) return
    for (const old of document.querySelectorAll('.msg.target')) old.classList.remove('target')
    node.classList.add('target')
    node.scrollIntoView({ block: 'center' })
    node.focus({ preventScroll: true })
  }

  focus () {
    this.node.querySelector('.compose-input').focus()
  }

  destroy () {
    for (const off of this.unsubscribe) off()
  }
}
