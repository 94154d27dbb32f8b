// Confab's service worker (served as /sw.js so its scope is the whole app): shows a notification for each
// Web Push message (the /ws frame {"type": "notification", "notification": {…}}) and opens the app on click.
// Plain script, not bundled: copied as is by build.mjs.
const KIND_TEXT = { mention: 'mentioned you', dm: 'sent you a direct message', reply: 'replied in a thread' }

self.addEventListener('install', () => self.skipWaiting())
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()))

self.addEventListener('push', (event) => {
  let frame = {}
  try { frame = event.data ? event.data.json() : {} } catch { frame = {} }
  const n = (frame && frame.notification) || {}
  const actor = n.actor ? String(n.actor.display_name || n.actor.username || 'Someone') : 'Confab'
  const title = `${actor} ${KIND_TEXT[n.kind] || 'sent a notification'}`.slice(0, 120)
  const url = n.room_id ? `/#/chat/${encodeURIComponent(n.room_id)}/${encodeURIComponent(n.message_id || '')}` : '/#/chat'
  event.waitUntil(self.registration.showNotification(title, {
    body: typeof n.snippet === 'string' ? n.snippet.slice(0, 200) : '',
    tag: n.id ? String(n.id) : undefined,
    data: { url }
  }))
})

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  const url = (event.notification.data && event.notification.data.url) || '/'
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((windows) => {
    const open = windows.find((w) => new URL(w.url).origin === self.location.origin)
    if (open) return open.focus().then(() => open.navigate(url))
    return self.clients.openWindow(url)
  }))
})
