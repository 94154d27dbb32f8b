// Authenticated REST calls: the bearer token is added, and a 401 triggers one quiet refresh and retry.
import { request } from './http.js'
import { accessToken, refresh } from './session.js'

/** `api('/rooms', {query})` calls /api/v1/rooms as the signed-in user. */
export async function api (path, options = {}) {
  const url = `/api/v1${path}`
  try {
    return await request(url, { ...options, token: accessToken() })
  } catch (err) {
    if (err.status !== 401 || !(await refresh())) throw err
    return request(url, { ...options, token: accessToken() })
  }
}

/** A URL a browser element (<img>, <a>) can load: files accept the access token as ?token=. */
export function withToken (url) {
  if (!url) return url
  const sep = url.includes('?') ? '&' : '?'
  return `${url}${sep}token=${encodeURIComponent(accessToken() || '')}`
}

/** ws(s)://host + path for the current page. */
export function socketUrl (path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}${path}`
}
