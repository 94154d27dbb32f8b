// Sign in and sign up. On success the session changes and the router shows the app; an account whose
// address is not verified yet goes on to the verification form (verify.js), keeping what was typed.
import { h } from '../core/dom.js'
import { field, onSubmit } from '../core/dialog.js'
import { login, register } from '../core/session.js'
import { card, leaveNotice } from './card.js'
import { awaitVerification } from './verify.js'

const unverified = (err) => err.code === 'FORBIDDEN' && err.details && err.details.reason === 'email_unverified'

/** Sign in, or go on to the verification form when the address still needs its code. */
async function signIn (identity, password, email) {
  try {
    await login(identity, password)
    leaveNotice('')
  } catch (err) {
    if (!unverified(err)) throw err
    awaitVerification({ identity, password, email: email || (identity.includes('@') ? identity : '') })
  }
}

export function loginView () {
  const identity = h('input', { name: 'username', required: true, autocomplete: 'username' })
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })
  const form = h('form', { class: 'stack', 'aria-label': 'sign in' },
    field('Username or email', identity), field('Password', password),
    h('p', { class: 'form-error', role: 'alert' }),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    h('a', { href: '#/forgot' }, 'Forgot your password?'))
  onSubmit(form, () => signIn(identity.value.trim(), password.value))
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
  onSubmit(form, async () => {
    try {
      await register({ username: username.value.trim(), email: email.value.trim(), password: password.value,
        displayName: displayName.value.trim(), inviteCode: inviteCode.value.trim() })
    } catch (err) {
      if (err.details && err.details.fields && err.details.fields.invite_code) invite.hidden = false
      throw err
    }
    await signIn(username.value.trim(), password.value, email.value.trim())
  })
  setTimeout(() => username.focus())
  return card('Create an account', form, ['Already have one? ', h('a', { href: '#/login' }, 'Sign in')])
}
