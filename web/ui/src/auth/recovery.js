// A forgotten password: #/forgot asks for a reset e-mail (the answer is the same whether or not an account
// has the address); the e-mailed link opens #/reset/<code> (or the code is pasted at #/reset) to choose a
// new password. A reset signs out every login of the account, this tab's included.
import { h } from '../core/dom.js'
import { field, onSubmit } from '../core/dialog.js'
import { request } from '../core/http.js'
import { current, logout } from '../core/session.js'
import { card, leaveNotice } from './card.js'
import { forgetCodeInAddress } from './verify.js'

export function forgotView () {
  const email = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'email' })
  const form = h('form', { class: 'stack', 'aria-label': 'reset password' },
    h('p', { class: 'muted' }, 'We will e-mail a link to choose a new password.'),
    field('Email', email),
    h('p', { class: 'form-error', role: 'alert' }), h('p', { class: 'form-ok', role: 'status' }),
    h('button', { type: 'submit', class: 'primary' }, 'Send reset link'))
  onSubmit(form, async () => {
    await request('/api/v1/auth/password-reset', { method: 'POST', body: { email: email.value.trim() } })
    return `If an account has ${email.value.trim()}, a link is on its way; it works once.`
  })
  setTimeout(() => email.focus())
  return card('Forgot your password?', form,
    [h('a', { href: '#/reset' }, 'I have a code'), ' · ', h('a', { href: '#/login' }, 'Back to sign in')])
}

export function resetView (code) {
  if (code) forgetCodeInAddress('reset')
  const token = h('input', { name: 'token', required: true, autocomplete: 'one-time-code', value: code || '' })
  const tokenField = field('Code from the e-mail', token)
  tokenField.hidden = Boolean(code)
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password' })
  const form = h('form', { class: 'stack', 'aria-label': 'choose a new password' },
    tokenField, field('New password', password),
    h('p', { class: 'form-error', role: 'alert' }),
    h('button', { type: 'submit', class: 'primary' }, 'Set new password'))
  onSubmit(form, async () => {
    try {
      await request('/api/v1/auth/password-reset/confirm', { method: 'POST',
        body: { token: token.value.trim(), password: password.value } })
    } catch (err) {
      if (err.details && err.details.fields && err.details.fields.token) tokenField.hidden = false
      throw err
    }
    leaveNotice('Your password is changed and every earlier sign-in has ended. Sign in with the new one.')
    location.hash = '#/login'
    if (current()) await logout() // the reset ended this login too
  })
  setTimeout(() => (code ? password : token).focus())
  return card('Choose a new password', form, [h('a', { href: '#/forgot' }, 'Send a new link')])
}
