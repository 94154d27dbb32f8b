// The members dialog of a channel: who is in it with which role and, for whoever the server lets invite
// (any member of a public room; admins and moderators of a private one), an invitation by username.
// Only an admin may grant a role, so only admins get the role choice.
import { h, replace, append, nameOf } from '../core/dom.js'
import { openDialog, field, showErrors } from '../core/dialog.js'
import { botBadge } from './message.js'

const PAGE = 100
const ROLES = ['member', 'moderator', 'admin']

/** Whether the signed-in user may invite to `room` (the server's rule, so the form is not shown in vain). */
export const canInvite = (room) => room.kind === 'channel' && (!room.is_private || ['admin', 'moderator'].includes(room.role))

export function membersDialog (chat, room) {
  const list = h('ul', { class: 'pick-list', 'aria-label': 'members' })
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'More members')
  const known = new Set() // user ids listed so far
  let cursor = null

  const load = async () => {
    try {
      const page = await chat.api(`/rooms/${room.id}/members`, { query: { limit: PAGE, cursor } })
      for (const member of page.items) known.add(member.user.id)
      append(list, page.items.map(memberItem))
      cursor = page.next_cursor
      more.hidden = !cursor
    } catch (err) { append(list, h('li', { class: 'form-error' }, err.message)) }
  }
  const reload = () => {
    cursor = null
    known.clear()
    replace(list)
    return load()
  }
  more.addEventListener('click', load)

  const form = canInvite(room) ? inviteForm(chat, room, (member) => known.has(member.user.id), reload) : null
  openDialog(`Members of ${chat.label(room)}`,
    form, h('h3', {}, 'Members'), list, more)
  reload()
  if (form) form.querySelector('input').focus()
}

function memberItem (member) {
  return h('li', {},
    h('span', {}, h('strong', {}, nameOf(member.user)), botBadge(member.user),
      h('span', { class: 'muted' }, ` @${member.user.username}`)),
    h('span', { class: `role${member.role === 'member' ? ' role-viewer' : ''}` }, member.role))
}

/** `wasMember(member)` tells a repeated invitation from a new one; `onInvited()` refreshes the list. */
function inviteForm (chat, room, wasMember, onInvited) {
  const username = h('input', { name: 'username', required: true, autocomplete: 'off', maxlength: 64 })
  let role = null
  if (room.role === 'admin') {
    role = h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r }, r)))
  }
  const done = h('p', { class: 'form-ok', role: 'status' })
  const form = h('form', { class: 'inline-form', 'aria-label': 'invite someone' },
    field('Username', username), role ? field('Role', role) : null,
    h('button', { type: 'submit', class: 'primary' }, 'Invite'),
    h('p', { class: 'form-error', role: 'alert' }), done)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    done.textContent = ''
    const name = username.value.trim().replace(/^@/, '')
    if (!name) return showErrors(form, { details: { fields: { username: ['Enter a username.'] } } })
    const body = role ? { username: name, role: role.value } : { username: name }
    try {
      const member = await chat.api(`/rooms/${room.id}/members`, { method: 'POST', body })
      showErrors(form, { details: {}, message: '' })
      username.removeAttribute('aria-invalid')
      username.value = ''
      done.textContent = wasMember(member) ? `${nameOf(member.user)} was already a member (${member.role}).`
        : `${nameOf(member.user)} is now a member.`
      await onInvited()
    } catch (err) { showErrors(form, err) }
    username.focus()
  })
  return form
}
