// Confirm an e-mail address (auth.email_verification = on): the e-mailed link opens #/verify/<code>, or the
// code is pasted here. Reached from sign-up or sign-in, the typed credentials are kept in memory only (never
// stored) so a confirmed account signs in at once; otherwise the form ends with a link to sign in.
import { h } from '../core/dom.js'
import { field, onSubmit } from '../core/dialog.js'
import { request } from '../core/http.js'
import { login } from '../core/session.js'
import { card, leaveNotice } from './card.js'

let pending = null // {identity, password, email} of the sign-in waiting for its address to be confirmed

/** Show the verification form for a sign-in the server refused with `email_unverified`. */
export function awaitVerification (credentials) {
  pending = credentials
  location.hash = '#/verify'
}

/** Take the code out of the address bar once read: it stays out of the history and of screenshots. */
export function forgetCodeInAddress (page) {
  history.replaceState(null, '', `${location.pathname}${location.search}#/${page}`)
}

export function verifyView (code) {
  if (code) forgetCodeInAddress('verify')
  const token = h('input', { name: 'token', required: true, autocomplete: 'one-time-code', value: code || '' })
  const form = h('form', { class: 'stack', 'aria-label': 'confirm e-mail address' },
    h('p', { class: 'muted' }, pending && pending.email
      ? `We sent a link and a code to ${pending.email}. Open the link, or paste the code here.`
      : 'Open the link in the e-mail we sent you, or paste its code here.'),
    field('Code', token),
    h('p', { class: 'form-error', role: 'alert' }),
    h('button', { type: 'submit', class: 'primary' }, 'Confirm address'))
  const view = card('Confirm your e-mail', form, ['', h('a', { href: '#/login' }, 'Back to sign in')])
  onSubmit(form, async () => {
    await request('/api/v1/auth/verify-email', { method: 'POST', body: { token: token.value.trim() } })
    const credentials = pending
    pending = null
    if (credentials) {
      history.replaceState(null, '', '#/chat') // signing in re-routes: to the chat, not back here
      try {
        return await login(credentials.identity, credentials.password)
      } catch (err) {
        forgetCodeInAddress('verify')
        throw err
      }
    }
    leaveNotice('Your address is confirmed. Sign in to start.')
    location.hash = '#/login'
  })
  form.after(resendForm())
  if (code) setTimeout(() => form.requestSubmit())
  else setTimeout(() => token.focus())
  return view
}

function resendForm () {
  const email = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'email',
    value: (pending && pending.email) || '' })
  const form = h('form', { class: 'stack resend', 'aria-label': 'send a new code' },
    h('p', { class: 'muted' }, 'No e-mail, or the code expired?'), field('Email', email),
    h('p', { class: 'form-error', role: 'alert' }), h('p', { class: 'form-ok', role: 'status' }),
    h('button', { type: 'submit' }, 'Send a new code'))
  return onSubmit(form, async () => {
    const answer = await request('/api/v1/auth/verify-email/resend', { method: 'POST', body: { email: email.value.trim() } })
    return `${answer.message[0].toUpperCase()}${answer.message.slice(1)}.`
  })
}
