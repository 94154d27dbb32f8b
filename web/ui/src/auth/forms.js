// Sign in and sign up. On success the session changes and the router shows the app.
import { h } from '../core/dom.js'
import { field, showErrors } from '../core/dialog.js'
import { login, register } from '../core/session.js'

function card (title, form, footer) {
  return h('main', { class: 'auth', id: 'main' },
    h('div', { class: 'auth-card' },
      h('p', { class: 'brand' }, 'Confab'),
      h('h1', {}, title), form, h('p', { class: 'auth-switch' }, footer)))
}

function submitting (form, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const button = form.querySelector('button[type=submit]')
    button.disabled = true
    try {
      await action()
    } catch (err) {
      showErrors(form, err)
    } finally {
      button.disabled = false
    }
  })
  return form
}

export function loginView () {
  const identity = h('input', { name: 'username', required: true, autocomplete: 'username' })
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })
  const form = h('form', { class: 'stack', 'aria-label': 'sign in' },
    field('Username or email', identity), field('Password', password),
    h('p', { class: 'form-error', role: 'alert' }),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'))
  submitting(form, () => login(identity.value.trim(), password.value))
  setTimeout(() => identity.focus())
  return card('Sign in', form, ['New here? ', h('a', { href: '#/signup' }, 'Create an account')])
}

export function signupView () {
  const username = h('input', { name: 'username', required: true, autocomplete: 'username', maxlength: 32 })
  const displayName = h('input', { name: 'display_name', autocomplete: 'name', maxlength: 64 })
  const email = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'email' })
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password' })
  const inviteCode = h('input', { name: 'invite_code', autocomplete: 'off' })
  const invite = field('Invite code', inviteCode)
  invite.hidden = true // shown when the server says registration is by invitation
  const form = h('form', { class: 'stack', 'aria-label': 'create an account' },
    field('Username', username), field('Display name (optional)', displayName), field('Email', email),
    field('Password', password), invite,
    h('p', { class: 'form-error', role: 'alert' }),
    h('button', { type: 'submit', class: 'primary' }, 'Create account'))
  submitting(form, async () => {
    try {
      await register({ username: username.value.trim(), email: email.value.trim(), password: password.value,
        displayName: displayName.value.trim(), inviteCode: inviteCode.value.trim() })
    } catch (err) {
      if (err.details && err.details.fields && err.details.fields.invite_code) invite.hidden = false
      throw err
    }
  })
  setTimeout(() => username.focus())
  return card('Create an account', form, ['Already have one? ', h('a', { href: '#/login' }, 'Sign in')])
}
