// The share dialog (owners): who has access with which role, add someone by username, change or remove.
import { h, replace } from '../core/dom.js'
import { api } from '../core/api.js'
import { openDialog, field, showErrors } from '../core/dialog.js'

const ROLES = ['editor', 'viewer']

const roleSelect = (value, attrs = {}) => {
  const select = h('select', attrs, ROLES.map((role) => h('option', { value: role }, role)))
  select.value = value
  return select
}

export function shareDialog (doc) {
  const list = h('ul', { class: 'pick-list', 'aria-label': 'people with access' })
  const username = h('input', { name: 'username', required: true, autocomplete: 'off', maxlength: 32 })
  const role = roleSelect('editor', { name: 'role' })
  const form = h('form', { class: 'inline-form' }, field('Username', username), field('Role', role),
    h('button', { type: 'submit', class: 'primary' }, 'Share'), h('p', { class: 'form-error', role: 'alert' }))
  openDialog(`Share “${doc.title}”`, form, h('h3', {}, 'People with access'), list)

  const share = (body) => api(`/documents/${doc.id}/shares`, { method: 'POST', body })
  const refresh = async () => {
    const shares = await api(`/documents/${doc.id}/shares`)
    replace(list, shares.length ? shares.map((s) => h('li', {}, h('strong', {}, s.username),
      roleSelect(s.role, { 'aria-label': `role of ${s.username}`,
        onchange: async (event) => { await share({ user_id: s.user_id, role: event.target.value }); refresh() } }),
      h('button', { type: 'button', class: 'subtle', 'aria-label': `remove ${s.username}`,
        onclick: async () => { await api(`/documents/${doc.id}/shares/${s.user_id}`, { method: 'DELETE' }); refresh() } },
      'Remove')))
      : h('li', { class: 'muted' }, 'Only you.'))
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    try {
      await share({ username: username.value.trim(), role: role.value })
      username.value = ''
      showErrors(form, { details: {}, message: '' })
      refresh()
    } catch (err) { showErrors(form, err) }
  })
  refresh()
  username.focus()
}
