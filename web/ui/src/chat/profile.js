// A person's card, opened from their name on a message: avatar, names, status text, online or last seen,
// and a button to message them directly. The card loads the full user (GET /users/{id}): messages carry
// only a short reference.
import { h, replace, nameOf, shortTime } from '../core/dom.js'
import { api } from '../core/api.js'
import { openDialog } from '../core/dialog.js'
import { avatar, learnAvatar } from './avatars.js'
import { botBadge } from './message.js'

export async function profileDialog (chat, ref) {
  const body = h('div', { class: 'profile' }, h('p', { class: 'muted' }, 'Loading…'))
  const dialog = openDialog(nameOf(ref), body)
  let user
  try {
    user = await api(`/users/${encodeURIComponent(ref.id)}`)
  } catch (err) {
    replace(body, h('p', { class: 'form-error' }, err.message))
    return
  }
  learnAvatar(user)
  const online = chat.store.online.has(user.id)
  const seen = online ? 'Online' : user.last_seen ? `Last seen ${shortTime(user.last_seen)}` : 'Offline'
  const mine = user.id === chat.store.me.id
  replace(body,
    h('div', { class: 'profile-head' }, avatar(user, online, { large: true }),
      h('div', {}, h('p', { class: 'profile-name' }, nameOf(user), botBadge(user)),
        h('p', { class: 'muted' }, `@${user.username}`), h('p', { class: 'muted' }, seen))),
    h('p', { class: 'profile-status' }, user.status_text || h('span', { class: 'muted' }, 'No status')),
    mine ? null : h('button', { type: 'button', class: 'primary',
      onclick: () => { dialog.close(); chat.openDm(user) } }, 'Send a direct message'))
}
