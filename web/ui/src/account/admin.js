// The administration screen (server admins only; the API answers FORBIDDEN to anyone else): every account
// with suspend / reactivate and grant / revoke server admin, and the audit log, newest first, one page at a time.
import { h, replace, shortTime } from '../core/dom.js'
import { api } from '../core/api.js'
import { field, showErrors } from '../core/dialog.js'
import { current } from '../core/session.js'

const PAGE = 50

/**
 * Fill `body` one page at a time: `fetchPage(cursor)` answers a list ({items, next_cursor}), `render` makes an
 * item's row, `empty()` (if given) the row of an empty first page. Submitting `form` starts over, `more`
 * appends the next page; a failure shows on `form`.
 */
function pages (form, body, more, fetchPage, render, empty = null) {
  let cursor = null
  async function load (fresh) {
    if (fresh) { cursor = null; replace(body) }
    try {
      const page = await fetchPage(cursor)
      body.append(...page.items.map(render))
      if (fresh && !page.items.length && empty) body.append(empty())
      cursor = page.next_cursor
      more.hidden = !cursor
    } catch (err) { showErrors(form, err) }
  }
  form.addEventListener('submit', (event) => { event.preventDefault(); load(true) })
  more.addEventListener('click', () => load(false))
  load(true)
}

function usersPanel () {
  const q = h('input', { name: 'q', type: 'search', maxlength: 254, autocomplete: 'off' })
  const form = h('form', { class: 'inline-form', 'aria-label': 'find users' },
    field('Find users (name or e-mail)', q), h('button', { type: 'submit' }, 'Search'),
    h('p', { class: 'form-error', role: 'alert' }))
  const body = h('tbody')
  const more = h('button', { type: 'button', hidden: true }, 'More users')
  const table = h('table', { class: 'data-table', 'aria-label': 'users' },
    h('thead', {}, h('tr', {}, ['User', 'E-mail', 'Role', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))), body)
  function row (user) {
    const role = h('td', {})
    const state = h('td', {})
    const error = h('span', { class: 'form-error', role: 'alert' })
    const suspension = h('button', { type: 'button' })
    const adminRole = h('button', { type: 'button' })
    const tr = h('tr', { dataset: { username: user.username } },
      h('td', {}, h('strong', {}, user.display_name), ' ', h('span', { class: 'muted' }, `@${user.username}`)),
      h('td', {}, user.email || ''), role, state, h('td', {}, suspension, ' ', adminRole, error))
    const show = (u) => {
      const me = u.id === current().user.id // an admin neither suspends nor demotes themselves here
      role.textContent = u.is_server_admin ? 'server admin' : u.is_bot ? 'bot' : 'user'
      state.textContent = u.suspended_at ? `suspended ${shortTime(u.suspended_at)}` : 'active'
      suspension.textContent = u.suspended_at ? 'Reactivate' : 'Suspend'
      suspension.setAttribute('aria-label', `${u.suspended_at ? 'reactivate' : 'suspend'} ${u.username}`)
      suspension.hidden = me
      adminRole.textContent = u.is_server_admin ? 'Revoke admin' : 'Make admin'
      adminRole.setAttribute('aria-label', u.is_server_admin ? `revoke server admin from ${u.username}`
        : `make ${u.username} a server admin`)
      adminRole.hidden = me || u.is_bot
      user = u
    }
    const path = () => `/admin/users/${encodeURIComponent(user.id)}`
    const onClick = (button, request) => button.addEventListener('click', async () => {
      button.disabled = true
      error.textContent = ''
      try {
        show(await request())
      } catch (err) {
        error.textContent = err.message // the last admin who can sign in stays one: CONFLICT
      } finally {
        button.disabled = false
      }
    })
    onClick(suspension, () => api(`${path()}/${user.suspended_at ? 'reactivate' : 'suspend'}`, { method: 'POST' }))
    onClick(adminRole, () => api(`${path()}/server-admin`,
      { method: 'PUT', body: { is_server_admin: !user.is_server_admin } }))
    show(user)
    return tr
  }

  pages(form, body, more, (cursor) => api('/admin/users', { query: { q: q.value.trim(), limit: PAGE, cursor } }), row)
  return h('section', { class: 'settings-section', 'aria-labelledby': 'admin-users' },
    h('h2', { id: 'admin-users' }, 'Users'), form, table, more)
}

function auditPanel () {
  const action = h('input', { name: 'action', maxlength: 64, autocomplete: 'off', placeholder: 'login.failed' })
  const form = h('form', { class: 'inline-form', 'aria-label': 'filter the audit log' },
    field('Only this action (optional)', action), h('button', { type: 'submit' }, 'Show'),
    h('p', { class: 'form-error', role: 'alert' }))
  const body = h('tbody')
  const older = h('button', { type: 'button', hidden: true }, 'Older events')
  const table = h('table', { class: 'data-table', 'aria-label': 'audit log' },
    h('thead', {}, h('tr', {}, ['When', 'Action', 'Actor', 'Target', 'Address', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
    body)
  const eventRow = (e) => h('tr', {},
    h('td', {}, h('time', { datetime: e.at }, new Date(e.at).toLocaleString())),
    h('td', {}, h('code', {}, e.action)),
    h('td', {}, e.actor_id || '—'), h('td', {}, e.target_id || '—'), h('td', {}, e.client_ip || '—'),
    h('td', {}, h('code', { class: 'audit-detail' }, JSON.stringify(e.detail || {}))))
  const page = (cursor) => api('/admin/audit',
    { query: { action: action.value.trim() || undefined, limit: PAGE, cursor } })
  pages(form, body, older, page, eventRow, () => h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No events.')))
  return h('section', { class: 'settings-section', 'aria-labelledby': 'admin-audit' },
    h('h2', { id: 'admin-audit' }, 'Audit log'), form, table, older)
}

export function adminView () {
  return h('div', { class: 'admin page' }, h('h1', {}, 'Administration'), usersPanel(), auditPanel())
}
