// The notifications bell: unread count, a list (mentions, DMs, replies), mark-as-read on open, and live
// `notification` frames. If the server has no notifications endpoint yet (404), the bell stays hidden.
import { icon } from '../core/icons.js'
import { h, replace, shortTime, nameOf } from '../core/dom.js'

const KIND_TEXT = { mention: 'mentioned you', dm: 'sent you a message', reply: 'replied to you',
  webhook_disabled: 'a webhook was disabled' }

export class Notifications {
  constructor (chat) {
    this.chat = chat
    this.items = []
    this.unread = 0
    this.badge = h('span', { class: 'badge', hidden: true })
    this.button = h('button', { type: 'button', class: 'icon bell', hidden: true, 'aria-expanded': 'false',
      'aria-haspopup': 'true', 'aria-label': 'notifications', onclick: () => this.toggle() }, icon('bell'), this.badge)
    this.panel = h('div', { class: 'popover', hidden: true, role: 'region', 'aria-label': 'notifications' })
    this.node = h('div', { class: 'notifications' }, this.button, this.panel)
    this.panel.addEventListener('keydown', (event) => { if (event.key === 'Escape') this.toggle(false) })
    this.load()
  }

  async load () {
    try {
      const page = await this.chat.api('/notifications', { query: { limit: 30 } })
      this.items = page.items
      this.unread = page.unread_count ?? page.items.filter((n) => !n.read_at).length
      this.button.hidden = false
      this.render()
    } catch (err) {
      this.button.hidden = true // no notifications endpoint on this server (yet)
    }
  }

  /** A live `notification` frame. */
  add (notification) {
    this.items = [notification, ...this.items.filter((n) => n.id !== notification.id)]
    if (!notification.read_at) this.unread += 1
    this.button.hidden = false
    this.render()
  }

  toggle (open = this.panel.hidden) {
    this.panel.hidden = !open
    this.button.setAttribute('aria-expanded', String(open))
    if (open) (this.panel.querySelector('button') || this.panel).focus()
  }

  render () {
    this.badge.hidden = !this.unread
    this.badge.textContent = this.unread > 99 ? '99+' : String(this.unread)
    this.button.setAttribute('aria-label', `notifications, ${this.unread} unread`)
    replace(this.panel, h('h2', {}, 'Notifications'),
      this.items.length ? h('ul', { class: 'notification-list' }, this.items.map((n) => h('li', { class: n.read_at ? '' : 'unread' },
        h('button', { type: 'button', class: 'link', onclick: () => this.open(n) },
          h('strong', {}, n.actor ? nameOf(n.actor) : 'Confab'), ` ${KIND_TEXT[n.kind] || n.kind}`,
          n.snippet ? h('span', { class: 'preview' }, n.snippet) : null,
          h('time', { datetime: n.created_at }, shortTime(n.created_at))))))
        : h('p', { class: 'muted' }, 'Nothing new.'))
  }

  async open (notification) {
    this.toggle(false)
    if (!notification.read_at) {
      try {
        const updated = await this.chat.api(`/notifications/${notification.id}/read`, { method: 'POST' })
        this.items = this.items.map((n) => (n.id === updated.id ? updated : n))
        this.unread = Math.max(0, this.unread - 1)
        this.render()
      } catch { /* stays unread; shown again next time */ }
    }
    if (notification.room_id) location.hash = `#/chat/${notification.room_id}/${notification.message_id || ''}`
  }
}
