// The signed-in user's tokens: kept in localStorage, refreshed quietly ~60 s before the access token
// expires (and once on a 401), shared by every tab (a tab adopts tokens another tab refreshed, because
// refresh tokens rotate and presenting a used one revokes the whole family).
import { request } from './http.js'

const KEY = 'confab.session'
const EARLY_MS = 60_000
const listeners = new Set()
let state = load()
let timer = null
let inflight = null

function load () {
  try { return JSON.parse(localStorage.getItem(KEY)) } catch { return null }
}

function set (next) {
  state = next
  if (next) localStorage.setItem(KEY, JSON.stringify(next))
  else localStorage.removeItem(KEY)
  schedule()
  for (const fn of listeners) fn(state)
}

function fromTokens (body, user) {
  return {
    access: body.access_token,
    refresh: body.refresh_token,
    expiresAt: Date.now() + body.expires_in * 1000,
    user: body.user || user
  }
}

function schedule () {
  clearTimeout(timer)
  if (!state) return
  const wait = Math.max(1000, state.expiresAt - Date.now() - EARLY_MS)
  timer = setTimeout(() => refresh().catch(() => {}), wait)
}

/** The current session ({access, refresh, expiresAt, user}) or null. */
export const current = () => state
export const accessToken = () => state && state.access

/** Call `fn(session)` on every sign-in, refresh and sign-out; returns an unsubscribe function. */
export function onChange (fn) {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

export async function login (identity, password) {
  const field = identity.includes('@') ? 'email' : 'username'
  const body = await request('/api/v1/auth/login', { method: 'POST', body: { [field]: identity, password } })
  set(fromTokens(body))
}

/** Create the account; signing in is the caller's next step (it may first need the e-mailed code). */
export async function register ({ username, email, password, displayName, inviteCode }) {
  const body = { username, email, password }
  if (displayName) body.display_name = displayName
  if (inviteCode) body.invite_code = inviteCode
  await request('/api/v1/auth/register', { method: 'POST', body })
}

export async function logout () {
  const old = state
  set(null)
  if (old) {
    await request('/api/v1/auth/logout', { method: 'POST', body: { refresh_token: old.refresh }, token: old.access })
      .catch(() => {})
  }
}

/** Replace the user object (after a profile change) without touching tokens. */
export function updateUser (user) {
  if (state) set({ ...state, user })
}

/**
 * Get a new token pair; one at a time across tabs (Web Locks where the browser has them). Resolves to
 * true when a fresh access token is available, false when the session is over (signed out).
 */
export function refresh () {
  if (!inflight) {
    const run = () => rotate().finally(() => { inflight = null })
    inflight = navigator.locks ? navigator.locks.request('confab.refresh', run) : run()
  }
  return inflight
}

async function rotate () {
  const stored = load()
  if (!stored) { if (state) set(null); return false }
  if (state && stored.refresh !== state.refresh) { set(stored); return true } // another tab already did it
  try {
    const body = await request('/api/v1/auth/refresh', { method: 'POST', body: { refresh_token: stored.refresh } })
    set(fromTokens(body, stored.user))
    return true
  } catch (err) {
    if (err.status === 0 || err.status >= 500 || err.code === 'RATE_LIMITED') {
      timer = setTimeout(() => refresh().catch(() => {}), 10_000) // transient: keep the session, try again
      return Date.now() < stored.expiresAt
    }
    set(null)
    return false
  }
}

window.addEventListener('storage', (event) => {
  if (event.key !== KEY) return
  const next = load()
  if ((next && next.refresh) !== (state && state.refresh)) {
    state = next
    schedule()
    for (const fn of listeners) fn(state)
  }
})
schedule()
