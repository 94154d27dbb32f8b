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

/** Whether a signed file link (file_url, thumbnail_url: `…&expires=<epoch seconds>&sig=…`) has run out. */
export function linkExpired (url) {
  const expires = Number(new URL(url, location.href).searchParams.get('expires'))
  return expires > 0 && expires * 1000 <= Date.now()
}

/** ws(s)://host + path for the current page. */
export function socketUrl (path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}${path}`
}
