// The frame every signed-out screen shares (sign in, sign up, verification, password reset), and the
// notice a screen leaves for the sign-in screen (a password reset, an address confirmed).
import { h } from '../core/dom.js'

let notice = ''

/** Show `text` on the sign-in screen until another screen is drawn (the router may draw it twice). */
export function leaveNotice (text) {
  notice = text
}

/** The centred card of every signed-out screen. */
export function card (title, form, footer) {
  if (title !== 'Sign in') notice = ''
  const shown = notice
  return h('main', { class: 'auth', id: 'main' },
    h('div', { class: 'auth-card' },
      h('p', { class: 'brand' }, 'Confab'),
      shown ? h('p', { class: 'notice', role: 'status' }, shown) : null,
      h('h1', {}, title), form, h('p', { class: 'auth-switch' }, footer)))
}
