// The chat dialogs: create a room, browse public rooms to join, and start a DM through a user search.
import { h, replace, nameOf } from '../core/dom.js'
import { openDialog, field, showErrors } from '../core/dialog.js'
import { botBadge } from './message.js'

export function newRoomDialog (chat) {
  const name = h('input', { name: 'name', required: true, maxlength: 100, autocomplete: 'off' })
  const description = h('input', { name: 'description', maxlength: 2000, autocomplete: 'off' })
  const isPrivate = h('input', { type: 'checkbox', name: 'is_private', id: 'room-private' })
  const form = h('form', { class: 'stack' },
    field('Name', name), field('Description (optional)', description),
    h('div', { class: 'check' }, isPrivate, h('label', { for: 'room-private' }, 'Private (members join by invitation)')),
    h('p', { class: 'form-error', role: 'alert' }),
    h('button', { type: 'submit', class: 'primary' }, 'Create room'))
  const dlg = openDialog('New room', form)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    try {
      const room = await chat.api('/rooms', { method: 'POST',
        body: { name: name.value.trim(), description: description.value.trim(), is_private: isPrivate.checked } })
      dlg.close()
      chat.addRoom(room)
    } catch (err) { showErrors(form, err) }
  })
  name.focus()
}

export async function browseRoomsDialog (chat) {
  const list = h('ul', { class: 'pick-list', 'aria-label': 'public rooms' }, h('li', {}, 'Loading…'))
  const dlg = openDialog('Browse rooms', list)
  try {
    const page = await chat.api('/rooms', { query: { scope: 'public', limit: 100 } })
    replace(list, page.items.length ? page.items.map((room) => h('li', {},
      h('div', {}, h('strong', {}, `# ${room.name}`), room.description ? h('p', { class: 'muted' }, room.description) : null),
      room.role
        ? h('button', { type: 'button', onclick: () => { dlg.close(); chat.open(room.id) } }, 'Open')
        : h('button', { type: 'button', class: 'primary', 'aria-label': `join ${room.name}`,
          onclick: async () => { dlg.close(); chat.addRoom(await chat.api(`/rooms/${room.id}/join`, { method: 'POST' })) } },
          'Join')))
      : h('li', {}, 'No public rooms yet.'))
  } catch (err) { replace(list, h('li', { class: 'form-error' }, err.message)) }
}

export function newDmDialog (chat) {
  const query = h('input', { type: 'search', name: 'q', autocomplete: 'off', placeholder: 'name or username' })
  const results = h('ul', { class: 'pick-list', 'aria-label': 'matching users', 'aria-live': 'polite' })
  const dlg = openDialog('New direct message', field('Find a person', query), results)
  let timer = null
  query.addEventListener('input', () => {
    clearTimeout(timer)
    timer = setTimeout(async () => {
      const q = query.value.trim()
      if (!q) return replace(results)
      try {
        const page = await chat.api('/users', { query: { q, limit: 20 } })
        const others = page.items.filter((u) => u.id !== chat.store.me.id)
        replace(results, others.length ? others.map((user) => h('li', {},
          h('span', {}, h('strong', {}, nameOf(user)), botBadge(user), ` @${user.username}`),
          h('button', { type: 'button', class: 'primary', 'aria-label': `message ${user.username}`,
            onclick: async () => { dlg.close(); await chat.openDm(user) } }, 'Message')))
          : h('li', {}, 'Nobody found.'))
      } catch (err) { replace(results, h('li', { class: 'form-error' }, err.message)) }
    }, 250)
  })
  query.focus()
}
