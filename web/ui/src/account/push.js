// Web Push opt-in (settings): registers the service worker (/sw.js, scope /), asks for the Notification
// permission, subscribes with the server's VAPID key (GET /push/key) and stores the subscription
// (POST /push/subscriptions). The subscription id is kept per browser to turn push off again.
import { h } from '../core/dom.js'
import { api } from '../core/api.js'
import { onSubmit } from '../core/dialog.js'

const KEY = 'confab.push'

function keyBytes (base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(base64url.length / 4) * 4, '=')
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
}

/** An Error shown as is by showErrors (message only). */
const problem = (message) => Object.assign(new Error(message), { details: {} })

async function registration () {
  await navigator.serviceWorker.register('/sw.js', { scope: '/' })
  return navigator.serviceWorker.ready
}

export function pushForm (userId) {
  const supported = 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window
  const state = h('p', { class: 'push-state', role: 'status' })
  const button = h('button', { type: 'submit', class: 'primary' })
  const form = h('form', { class: 'stack', 'aria-label': 'push notifications' },
    h('p', { class: 'muted' }, 'Mentions, direct messages and replies reach this browser while Confab is closed.'),
    state, h('p', { class: 'form-error', role: 'alert' }), button)
  const stored = () => { try { return JSON.parse(localStorage.getItem(KEY)) } catch { return null } }
  const show = (on) => {
    form.dataset.state = on ? 'on' : 'off'
    state.textContent = on ? 'Push notifications are on in this browser.' : 'Push notifications are off in this browser.'
    button.textContent = on ? 'Turn off push notifications' : 'Turn on push notifications'
  }
  if (!supported) {
    state.textContent = 'This browser cannot receive push notifications.'
    button.hidden = true
    return form
  }
  const mine = stored()
  show(Boolean(mine && mine.user === userId && Notification.permission === 'granted'))

  async function turnOn () {
    const permission = await Notification.requestPermission()
    if (permission !== 'granted') throw problem('Notifications are blocked for this site: allow them in the browser first.')
    const reg = await registration()
    const { public_key: publicKey } = await api('/push/key')
    let subscription
    try {
      subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) })
    } catch (err) {
      throw problem(`The browser could not subscribe to its push service: ${err.message}`)
    }
    const { endpoint, keys } = subscription.toJSON()
    const saved = await api('/push/subscriptions', { method: 'POST', body: { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } } })
    localStorage.setItem(KEY, JSON.stringify({ user: userId, id: saved.id }))
    show(true)
  }

  async function turnOff () {
    const mine = stored()
    if (mine && mine.id) await api(`/push/subscriptions/${encodeURIComponent(mine.id)}`, { method: 'DELETE' }).catch(() => {})
    localStorage.removeItem(KEY)
    const reg = await navigator.serviceWorker.getRegistration('/')
    const subscription = reg && await reg.pushManager.getSubscription()
    if (subscription) await subscription.unsubscribe()
    show(false)
  }

  return onSubmit(form, () => form.dataset.state === 'on' ? turnOff() : turnOn())
}
