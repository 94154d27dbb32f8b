// fetch with Confab's error format (docs/protocol.md): every failure becomes an HttpError carrying code and details.

export class HttpError extends Error {
  constructor (status, body) {
    const error = (body && body.error) || {}
    super(error.message || `HTTP ${status}`)
    this.status = status
    this.code = error.code || (status === 0 ? 'NETWORK' : 'INTERNAL')
    this.details = error.details || {}
    this.requestId = error.request_id
  }

  /** The per-field messages of a BAD_REQUEST, flattened to one readable line. */
  describe () {
    const fields = this.details.fields || {}
    const parts = Object.entries(fields).map(([name, msgs]) => `${name}: ${[].concat(msgs).join(' ')}`)
    return parts.length ? `${this.message} (${parts.join('; ')})` : this.message
  }
}

/**
 * One HTTP call. `body` is sent as JSON, `form` as multipart; `token` adds the bearer header.
 * Resolves with the parsed JSON (null for 204), rejects with HttpError.
 */
export async function request (path, { method = 'GET', body, form, query, token } = {}) {
  const headers = {}
  if (token) headers.Authorization = `Bearer ${token}`
  let payload
  if (form) payload = form
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  const url = query ? `${path}?${new URLSearchParams(clean(query))}` : path
  let response
  try {
    response = await fetch(url, { method, headers, body: payload })
  } catch (err) {
    throw new HttpError(0, { error: { message: 'the server cannot be reached' } })
  }
  if (response.status === 204) return null
  const data = await response.json().catch(() => null)
  if (!response.ok) throw new HttpError(response.status, data)
  return data
}

function clean (query) {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ''))
}
