// Web Push end to end in headless Chromium: Ana turns push on in settings, closes the app, Ben sends her a
// direct message, and the server's push reaches her service worker, which shows it. Chromium's own push
// service (Google's) cannot be reached here, so this script stands in for it, and only for it: the page's
// PushManager hands out a subscription whose endpoint is a receiver on loopback, the receiver checks the
// VAPID signature and decrypts the message with the subscription's keys (webpush.mjs), and DevTools'
// ServiceWorker.deliverPushMessage gives the plaintext to the registered worker, as Chromium would.
// Usage: node tests/browser/push.mjs <base_url> <output_dir>. Exit status 0 when every step passed.
import { createServer } from 'node:http'
import { runScenario, openUser, signUp, step, check, eventually } from './lib.mjs'
import { subscriptionKeys, decrypt, checkVapid } from './webpush.mjs'

/** The stand-in push service: one subscription at a time, and every message POSTed to its endpoint. */
const service = { keys: null, options: null, received: [], origin: null }
const receiver = createServer((request, response) => {
  const chunks = []
  request.on('data', (chunk) => chunks.push(chunk))
  request.on('end', () => {
    service.received.push({ path: request.url, headers: request.headers, body: Buffer.concat(chunks) })
    response.writeHead(201).end()
  })
})
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve))
service.origin = `http://127.0.0.1:${receiver.address().port}`
const endpoint = `${service.origin}/push/ana-browser`
const subscription = () => service.keys && { endpoint, p256dh: service.keys.p256dh, auth: service.keys.authSecret }
const actions = {
  subscribe (options) {
    service.keys = subscriptionKeys()
    service.options = options
    return subscription()
  },
  get: () => subscription(),
  unsubscribe () { service.keys = null }
}

/** In the page: PushManager backed by the stand-in service (what Chromium's would give, in its shape). */
function fakePushManager () {
  const wrap = (sub) => sub && {
    endpoint: sub.endpoint,
    expirationTime: null,
    toJSON: () => ({ endpoint: sub.endpoint, expirationTime: null, keys: { p256dh: sub.p256dh, auth: sub.auth } }),
    unsubscribe: () => window.confabPushService('unsubscribe').then(() => true)
  }
  PushManager.prototype.subscribe = async function (options) {
    const key = Array.from(new Uint8Array(options.applicationServerKey))
    return wrap(await window.confabPushService('subscribe', { userVisibleOnly: options.userVisibleOnly, applicationServerKey: key }))
  }
  PushManager.prototype.getSubscription = async function () { return wrap(await window.confabPushService('get')) }
}

async function rest (base, user, path, options = {}) {
  const session = await user.page.evaluate(() => JSON.parse(localStorage.getItem('confab.session')))
  const response = await fetch(`${base}/api/v1${path}`, { method: options.method || 'GET',
    headers: { Authorization: `Bearer ${session.access}`, 'Content-Type': 'application/json' },
    body: options.body && JSON.stringify(options.body) })
  return { status: response.status, body: response.status === 204 ? null : await response.json() }
}

/** What the worker shows (a page of the app's origin asks its registration). */
const shown = (page) => page.evaluate(async () => {
  const registration = await navigator.serviceWorker.getRegistration('/')
  return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, url: n.data.url }))
})

await runScenario('push.mjs', [], async ({ base, browser, users }) => {
  const ana = await openUser(browser, base, 'ana')
  const ben = await openUser(browser, base, 'ben')
  users.push(ana, ben)
  await ana.context.exposeBinding('confabPushService', (source, action, options) => actions[action](options))
  await ana.context.addInitScript(fakePushManager)
  await Promise.all([signUp(ana, base), signUp(ben, base)])
  const anaId = await ana.page.evaluate(() => JSON.parse(localStorage.getItem('confab.session')).user.id)

  await step('ana turns push on: permission, service worker, subscription with the server key', async () => {
    await ana.context.grantPermissions(['notifications'], { origin: base })
    await ana.page.getByRole('link', { name: 'Settings' }).click()
    const form = ana.page.getByRole('form', { name: 'push notifications' })
    const posted = ana.page.waitForResponse((r) => r.url().endsWith('/api/v1/push/subscriptions') && r.request().method() === 'POST')
    await form.getByRole('button', { name: 'Turn on push notifications' }).click()
    await form.getByText('Push notifications are on in this browser.').waitFor()
    check((await posted).status() === 201, 'the server stored the subscription')
    const worker = await ana.page.evaluate(async () => {
      const reg = await navigator.serviceWorker.getRegistration('/')
      return reg && reg.active && { script: reg.active.scriptURL, scope: reg.scope }
    })
    check(worker && new URL(worker.script).pathname === '/sw.js' && new URL(worker.scope).pathname === '/',
      `the service worker is registered for the whole app: ${JSON.stringify(worker)}`)
    const { public_key: serverKey } = (await rest(base, ana, '/push/key')).body
    check(service.options.userVisibleOnly === true, 'every push is shown (userVisibleOnly)')
    check(Buffer.from(service.options.applicationServerKey).toString('base64url') === serverKey,
      'the UI subscribed with the server\'s VAPID key')
    service.serverKey = serverKey
  })

  let cdp = null
  let registrationId = null
  await step('ana closes the app; ben DMs her; the server pushes it, signed and encrypted', async () => {
    await ana.page.goto(`${base}/sw.js`) // a page of the origin without the app: no socket open
    cdp = await ana.context.newCDPSession(ana.page)
    const registrations = []
    cdp.on('ServiceWorker.workerRegistrationUpdated', (event) => registrations.push(...event.registrations))
    await cdp.send('ServiceWorker.enable')
    registrationId = (await eventually(() => registrations.find((r) => !r.isDeleted && new URL(r.scopeURL).origin === base),
      'the worker registration')).registrationId
    await eventually(async () => !(await rest(base, ben, '/users/online')).body.items.some((u) => u.id === anaId), 'ana offline')
    const room = (await rest(base, ben, `/dms/${anaId}`, { method: 'POST' })).body
    const sentAt = Date.now()
    const sent = await rest(base, ben, `/rooms/${room.id}/messages`, { method: 'POST', body: { content: 'psst ana, are you there?' } })
    check(sent.status === 201, `ben's message is stored: ${JSON.stringify(sent)}`)
    const message = await eventually(() => service.received[0], 'a push message within 10 s', 10_000)
    console.log(`     pushed ${Date.now() - sentAt} ms after ben's message was sent (the job reads what is 2 s old, every second)`)
    check(message.path === '/push/ana-browser', `pushed to the subscribed endpoint: ${message.path}`)
    check(message.headers['content-encoding'] === 'aes128gcm' && Number(message.headers.ttl) > 0, JSON.stringify(message.headers))
    const claims = checkVapid(message.headers.authorization, service.serverKey, service.origin)
    check(/^mailto:/.test(claims.sub), `the VAPID subject is a contact: ${claims.sub}`)
    const frame = JSON.parse(decrypt(message.body, service.keys))
    check(frame.type === 'notification' && frame.notification.kind === 'dm' && frame.notification.room_id === room.id &&
      frame.notification.snippet.includes('psst ana') && frame.notification.actor.username === 'ben', JSON.stringify(frame))
    service.plaintext = decrypt(message.body, service.keys)
    service.frame = frame
  })
  await step("ana's service worker shows the pushed message", async () => {
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: `${base}/`, registrationId, data: service.plaintext })
    const [notification] = await eventually(async () => (await shown(ana.page)).filter((n) => n.tag === service.frame.notification.id),
      'the notification is shown')
    check(notification.title === 'Ben sent you a direct message' && notification.body.includes('psst ana') &&
      notification.url === `/#/chat/${service.frame.notification.room_id}/${service.frame.notification.message_id}`,
    JSON.stringify(notification))
  })
  await step('ana turns push off: the subscription is gone on both sides and nothing more is pushed', async () => {
    await ana.page.goto(`${base}/#/settings`)
    const form = ana.page.getByRole('form', { name: 'push notifications' })
    await form.getByRole('button', { name: 'Turn off push notifications' }).click()
    await form.getByText('Push notifications are off in this browser.').waitFor()
    check(service.keys === null, 'the browser subscription is unsubscribed')
    await ana.page.goto(`${base}/sw.js`)
    await eventually(async () => !(await rest(base, ben, '/users/online')).body.items.some((u) => u.id === anaId), 'ana offline')
    const room = (await rest(base, ben, `/dms/${anaId}`, { method: 'POST' })).body
    await rest(base, ben, `/rooms/${room.id}/messages`, { method: 'POST', body: { content: 'still there?' } })
    await new Promise((resolve) => setTimeout(resolve, 3000)) // the push job looks every second
    check(service.received.length === 1, `no push after unsubscribing (${service.received.length} received)`)
  })
})
