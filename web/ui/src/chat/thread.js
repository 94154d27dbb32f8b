// The thread panel: a root message, its replies (loaded over REST, then kept live from the socket) and a
// composer whose messages reply to the root.
import { icon } from '../core/icons.js'
import { h } from '../core/dom.js'
import { renderMessage } from './message.js'
import { KeyedList } from './keyedlist.js'
import { composer } from './composer.js'

export class ThreadPanel {
  constructor (chat, root, onClose) {
    this.chat = chat
    this.root = root
    const store = chat.store
    const log = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': 'thread replies' })
    this.list = new KeyedList(log,
      (m) => renderMessage(m, { me: store.me, online: store.online, actions: chat.actions, inThread: true }),
      (m) => JSON.stringify([m.updated_at, m.reactions, m.is_deleted, m.pending, store.online.has(m.user.id)]))
    this.node = h('aside', { class: 'thread', 'aria-labelledby': 'thread-title' },
      h('header', { class: 'room-header' },
        h('h2', { id: 'thread-title' }, 'Thread'),
        h('button', { type: 'button', class: 'icon', 'aria-label': 'close thread', onclick: onClose }, icon('close'))),
      h('div', { class: 'scroller' }, log),
      composer({ label: 'Reply in thread', placeholder: 'Reply…',
        send: (body) => chat.sendMessage(root.room_id, { ...body, reply_to_id: root.id }),
        typing: () => {} }))
    this.off = store.on('message', (m) => { if (m.id === root.id || m.thread_root_id === root.id) this.render() })
    this.ready = this.load().catch(() => {}) // resolves once the replies are shown
  }

  messages () {
    return this.chat.store.ordered(this.root.room_id).filter((m) => m.id === this.root.id || m.thread_root_id === this.root.id)
  }

  async load () {
    try {
      const page = await this.chat.api(`/messages/${this.root.id}/thread`, { query: { limit: 200 } })
      const map = this.chat.store.roomMessages(this.root.room_id)
      for (const m of page.items) if (!map.has(m.id)) map.set(m.id, m)
    } finally {
      this.render()
    }
  }

  render () {
    this.list.update(this.messages())
    const scroller = this.node.querySelector('.scroller')
    scroller.scrollTop = scroller.scrollHeight
  }

  focus () { this.node.querySelector('.compose-input').focus() }

  destroy () { this.off() }
}
