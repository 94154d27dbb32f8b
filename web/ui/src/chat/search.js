// Message search at the top of the room list: results (best match first, "More results" pages on) take the
// list's place until the search is cleared; a hit opens its room at that message (#/chat/<room>/<message>).
// The search can be limited to the open room. Only rooms the user is a member of are searched (server rule).
import { icon } from '../core/icons.js'
import { h, replace, append, shortTime } from '../core/dom.js'
import { authorOf } from './message.js'
import { snippetNodes } from './snippet.js'

const PAGE = 20
const TYPE_PAUSE_MS = 350

export class MessageSearch {
  /** `onActive(shown)` tells the sidebar whether results are shown (it hides the room list meanwhile). */
  constructor (chat, onActive) {
    this.chat = chat
    this.onActive = onActive
    this.serial = 0 // answers to an older query are dropped
    this.query = null
    this.cursor = null
    this.input = h('input', { type: 'search', id: 'message-search', name: 'q', maxlength: 200, autocomplete: 'off',
      placeholder: 'Search messages', 'aria-controls': 'search-results' })
    this.clearButton = h('button', { type: 'button', class: 'icon', 'aria-label': 'clear search', hidden: true,
      onclick: () => this.clear() }, icon('close'))
    this.scope = h('input', { type: 'checkbox', id: 'search-scope', onchange: () => this.run() })
    this.scopeLabel = h('label', { for: 'search-scope' })
    this.scopeRow = h('div', { class: 'check search-scope', hidden: true }, this.scope, this.scopeLabel)
    this.form = h('form', { class: 'search', role: 'search', 'aria-label': 'messages' },
      h('label', { for: 'message-search', class: 'sr-only' }, 'Search messages'),
      h('div', { class: 'search-row' }, this.input, this.clearButton),
      this.scopeRow)
    this.status = h('p', { class: 'search-status', role: 'status' })
    this.list = h('ul', { class: 'search-hits', id: 'search-results', 'aria-label': 'search results' })
    this.more = h('button', { type: 'button', class: 'more', hidden: true, onclick: () => this.page(true) }, 'More results')
    this.results = h('section', { class: 'search-results', hidden: true, 'aria-label': 'message search results' },
      this.status, this.list, this.more)

    this.form.addEventListener('submit', (event) => { event.preventDefault(); this.run() })
    this.input.addEventListener('input', () => {
      clearTimeout(this.timer)
      this.clearButton.hidden = !this.input.value
      this.timer = setTimeout(() => this.run(), TYPE_PAUSE_MS)
    })
    this.input.addEventListener('keydown', (event) => { if (event.key === 'Escape' && this.input.value) this.clear() })
    this.off = chat.store.on('rooms', () => this.syncScope())
    this.syncScope()
  }

  /** The "only in this room" box follows the open room; a scoped search follows it too. */
  syncScope () {
    const room = this.chat.store.rooms.get(this.chat.store.activeRoom)
    this.scopeRow.hidden = !room
    if (!room) this.scope.checked = false
    else this.scopeLabel.textContent = `Only in ${this.chat.label(room)}`
    if (this.query && this.scope.checked && this.query.room_id !== this.chat.store.activeRoom) this.run()
  }

  /** Start a new search from the box (empty: back to the room list). */
  run () {
    clearTimeout(this.timer)
    const q = this.input.value.trim()
    if (!q) return this.clear(false)
    this.query = { q, room_id: this.scope.checked ? this.chat.store.activeRoom : null, limit: PAGE }
    this.cursor = null
    replace(this.list)
    this.more.hidden = true
    this.setStatus('Searching…')
    this.results.hidden = false
    this.onActive(true)
    return this.page(false)
  }

  /** Fetch the next page of the current query; `moving` focuses its first hit (the "More results" button). */
  async page (moving) {
    const serial = ++this.serial
    const query = this.query
    try {
      const result = await this.chat.api('/search/messages', { query: { ...query, cursor: this.cursor } })
      if (serial !== this.serial) return
      const hits = result.items.map((hit) => this.hit(hit))
      append(this.list, hits)
      this.cursor = result.next_cursor
      this.more.hidden = !this.cursor
      const count = this.list.children.length
      this.setStatus(count ? `${count}${this.cursor ? '+' : ''} ${count === 1 ? 'message' : 'messages'} found`
        : `No messages match “${query.q}”.`)
      if (moving && hits.length) hits[0].querySelector('a').focus()
    } catch (err) {
      if (serial === this.serial) this.setStatus(err.describe ? err.describe() : err.message, 'error')
    }
  }

  hit ({ message, room, snippet }) {
    const known = this.chat.store.rooms.get(room.id)
    const href = `#/chat/${room.id}/${message.id}`
    return h('li', {}, h('a', { href, class: 'search-hit',
      onclick: () => { if (location.hash === href) window.dispatchEvent(new HashChangeEvent('hashchange')) } }, // again
    h('span', { class: 'hit-room' }, this.chat.label(known || room)),
    h('time', { datetime: message.created_at }, shortTime(message.created_at)),
    h('span', { class: 'hit-text' }, h('strong', {}, authorOf(message)), ': ', snippetNodes(snippet))))
  }

  setStatus (text, kind = 'info') {
    this.status.textContent = text
    this.status.dataset.kind = kind
  }

  /** Empty the box and show the room list again; `refocus` keeps the keyboard in the box. */
  clear (refocus = true) {
    clearTimeout(this.timer)
    this.serial++
    this.query = null
    this.input.value = ''
    this.clearButton.hidden = true
    replace(this.list)
    this.results.hidden = true
    this.onActive(false)
    if (refocus) this.input.focus()
  }

  destroy () { this.off() }
}
