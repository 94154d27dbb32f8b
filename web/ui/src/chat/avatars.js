// Avatars: the initial on the user's colour, replaced by their image when they set one. Messages carry
// short user objects without it, so the image link is looked up once per user (GET /users/{id}) and every
// avatar of that user on the page is filled when it arrives; links are signed and expire, so a lookup is
// reused for 30 minutes only.
import { h, colorFor, nameOf } from '../core/dom.js'
import { api } from '../core/api.js'

const REUSE_MS = 30 * 60_000
const known = new Map() // user id -> {url, at} (url null: no avatar) or {pending: Promise}

/** Remember a user's avatar link from a full user object (the signed-in user's, after a change). */
export function learnAvatar (user) {
  known.set(user.id, { url: user.avatar_url || null, at: Date.now() })
}

/** The avatar of `user`; `online` true/false adds a presence dot, null none; `large` for the settings preview. */
export function avatar (user, online, { large = false } = {}) {
  const node = h('span', { class: `avatar${large ? ' large' : ''}`, style: `background:${colorFor(user.id)}`,
    'aria-hidden': 'true', dataset: { user: user.id } }, nameOf(user).slice(0, 1).toUpperCase(),
  online === null ? null : h('span', { class: `dot ${online ? 'online' : 'offline'}`, dataset: { presence: user.id } }))
  const entry = known.get(user.id)
  if (entry && entry.url) node.prepend(image(entry.url)) // a stale link still shows while it is renewed
  if (!entry || (!entry.pending && Date.now() - entry.at >= REUSE_MS)) lookUp(user.id)
  return node
}

const image = (url) => h('img', { src: url, alt: '', loading: 'lazy', class: 'avatar-img' })

async function lookUp (userId) {
  const pending = api(`/users/${encodeURIComponent(userId)}`)
  known.set(userId, { ...known.get(userId), pending })
  try {
    learnAvatar(await pending)
  } catch {
    known.set(userId, { url: null, at: Date.now() }) // a deleted or unknown user: the initial stays
    return
  }
  const { url } = known.get(userId)
  for (const node of document.querySelectorAll(`.avatar[data-user="${CSS.escape(userId)}"]`)) {
    const img = node.querySelector('.avatar-img')
    if (img) img.remove()
    if (url) node.prepend(image(url))
  }
}
