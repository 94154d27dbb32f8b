// The account settings screen: profile (display name, status, e-mail digest), avatar (avatar.js), password change, export of
// my data (a JSON download), Web Push opt-in (push.js) and account deletion. Every form shows the API's error message on failure.
import { h } from '../core/dom.js'
import { api } from '../core/api.js'
import { field, onSubmit } from '../core/dialog.js'
import { current, logout, updateUser } from '../core/session.js'
import { pushForm } from './push.js'
import { avatarForm } from './avatar.js'

const feedback = () => [h('p', { class: 'form-error', role: 'alert' }), h('p', { class: 'form-ok', role: 'status' })]

function section (title, ...content) {
  const id = `settings-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`
  return h('section', { class: 'settings-section', 'aria-labelledby': id }, h('h2', { id }, title), ...content)
}

function profileForm (me) {
  const displayName = h('input', { name: 'display_name', required: true, maxlength: 64, autocomplete: 'name',
    value: me.display_name || '' })
  const status = h('input', { name: 'status_text', maxlength: 140, autocomplete: 'off', value: me.status_text || '' })
  const digest = h('input', { name: 'email_digest', type: 'checkbox' })
  digest.checked = me.email_digest !== false
  const form = h('form', { class: 'stack', 'aria-label': 'profile' },
    field('Display name', displayName), field('Status', status),
    h('label', { class: 'check' }, digest, ' E-mail me a digest of mentions and direct messages while I am away'),
    ...feedback(), h('button', { type: 'submit', class: 'primary' }, 'Save profile'))
  return onSubmit(form, async () => {
    const user = await api('/users/me', { method: 'PUT',
      body: { display_name: displayName.value.trim(), status_text: status.value.trim(), email_digest: digest.checked } })
    updateUser({ ...current().user, ...user })
    return 'Profile saved.'
  })
}

function passwordForm () {
  const currentPassword = h('input', { name: 'current_password', type: 'password', required: true,
    autocomplete: 'current-password' })
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password' })
  const form = h('form', { class: 'stack', 'aria-label': 'change password' },
    field('Current password', currentPassword), field('New password', password),
    ...feedback(), h('button', { type: 'submit', class: 'primary' }, 'Change password'))
  return onSubmit(form, async () => {
    await api('/auth/password', { method: 'POST',
      body: { current_password: currentPassword.value, password: password.value } })
    form.reset()
    return 'Password changed: your other sessions were signed out.'
  })
}

function exportForm () {
  const form = h('form', { class: 'stack', 'aria-label': 'export my data' },
    h('p', { class: 'muted' }, 'Everything stored about you (rooms, messages, documents, files, keys without secrets) as one JSON file.'),
    ...feedback(), h('button', { type: 'submit' }, 'Export my data'))
  return onSubmit(form, async () => {
    const data = await api('/users/me/export')
    const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }))
    const link = h('a', { href: url, download: `confab-export-${data.user.username}.json`, hidden: true })
    document.body.append(link)
    link.click()
    link.remove()
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
    return 'Export downloaded.'
  })
}

function deletionForm () {
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })
  const documents = h('select', { name: 'documents' },
    h('option', { value: 'delete' }, 'Delete the documents I own'),
    h('option', { value: 'transfer' }, 'Give the documents I own to another user'))
  const heir = h('input', { name: 'transfer_to', maxlength: 32, autocomplete: 'off' })
  const heirField = field('Username who receives them', heir)
  heirField.hidden = true
  documents.addEventListener('change', () => { heirField.hidden = documents.value !== 'transfer' })
  const form = h('form', { class: 'stack', 'aria-label': 'delete my account' },
    h('p', { class: 'muted' }, 'Your messages stay, shown as by "deleted user". This cannot be undone.'),
    field('My documents', documents), heirField, field('Password to confirm', password),
    ...feedback(), h('button', { type: 'submit', class: 'danger' }, 'Delete my account'))
  return onSubmit(form, async () => {
    const body = { password: password.value, documents: documents.value }
    if (documents.value === 'transfer') body.transfer_to = heir.value.trim()
    await api('/users/me/deletion', { method: 'POST', body })
    await logout()
  })
}

export function settingsView () {
  const me = current().user
  return h('div', { class: 'settings page' },
    h('h1', {}, 'Settings'),
    h('p', { class: 'muted' }, `Signed in as @${me.username}${me.email ? ` (${me.email})` : ''}`),
    section('Profile', profileForm(me)),
    section('Avatar', avatarForm()),
    section('Push notifications', pushForm(me.id)),
    section('Password', passwordForm()),
    section('Your data', exportForm()),
    section('Delete account', deletionForm()))
}
