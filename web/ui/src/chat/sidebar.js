// The room list: channels and DMs by latest activity, each with its unread badge and the last message's
// preview; DMs show the other person's presence dot, private rooms a lock. Message search sits above it.
import { icon } from '../core/icons.js'
import { h, replace, nameOf } from '../core/dom.js'
import { newRoomDialog, browseRoomsDialog, newDmDialog } from './dialogs.js'
import { MessageSearch } from './search.js'

export class Sidebar {
  constructor (chat) {
    this.chat = chat
    this.list = h('ul', { class: 'room-list', 'aria-label': 'your rooms' })
    this.search = new MessageSearch(chat, (shown) => { this.list.hidden = shown })
    this.node = h('nav', { class: 'sidebar', 'aria-label': 'rooms' },
      h('div', { class: 'sidebar-actions' },
        h('button', { type: 'button', onclick: () => newRoomDialog(chat) }, '+ Room'),
        h('button', { type: 'button', onclick: () => browseRoomsDialog(chat) }, 'Browse'),
        h('button', { type: 'button', onclick: () => newDmDialog(chat) }, '+ DM')),
      this.search.form, this.search.results, this.list)
    this.offs = [chat.store.on('rooms', () => this.render()), chat.store.on('presence', () => this.render())]
    this.render()
  }

  render () {
    const { store } = this.chat
    const rooms = store.sortedRooms()
    replace(this.list, rooms.length ? rooms.map((room) => this.item(room))
      : h('li', { class: 'empty' }, 'No rooms yet: create one, browse public rooms, or message someone.'))
  }

  item (room) {
    const { store } = this.chat
    const active = store.activeRoom === room.id
    const unread = room.unread_count || 0
    const peer = room.peer
    const last = room.last_message
    const preview = last ? `${last.user.id === store.me.id ? 'You' : nameOf(last.user)}: ${last.snippet || 'sent a file'}` : 'No messages yet'
    const label = `${this.chat.title(room)}${room.is_private ? ', private' : ''}${unread ? `, ${unread} unread` : ''}`
    return h('li', {},
      h('a', { href: `#/chat/${room.id}`, class: `room-link${active ? ' active' : ''}${unread ? ' unread' : ''}`,
        'aria-current': active ? 'page' : false, 'aria-label': label, dataset: { roomId: room.id } },
      h('span', { class: 'room-name' },
        peer ? h('span', { class: `dot ${store.online.has(peer.id) ? 'online' : 'offline'}`, 'aria-hidden': 'true' })
          : room.is_private ? h('span', { class: 'private-mark', 'aria-hidden': 'true' }, icon('lock')) : '# ',
        this.chat.title(room)),
      unread ? h('span', { class: 'badge', 'aria-hidden': 'true' }, unread > 99 ? '99+' : String(unread)) : null,
      h('span', { class: 'preview' }, preview)))
  }

  destroy () {
    for (const off of this.offs) off()
    this.search.destroy()
  }
}
