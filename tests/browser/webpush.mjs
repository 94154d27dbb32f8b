// The push service's side of Web Push for the browser scenario, standing in for the one Chromium would
// reach (Google's, not reachable here): keys for a subscription, the check of the sender's VAPID signature
// (RFC 8292) and the decryption of an aes128gcm message (RFC 8291 over RFC 8188), so the test reads exactly
// what a browser would get.
import { createECDH, createDecipheriv, createPublicKey, hkdfSync, randomBytes, verify } from 'node:crypto'

const b64url = (buffer) => Buffer.from(buffer).toString('base64url')

/** A user agent's subscription keys: {ecdh, p256dh, auth} (the latter two base64url, as toJSON() gives them). */
export function subscriptionKeys () {
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  const auth = randomBytes(16)
  return { ecdh, auth, p256dh: b64url(ecdh.getPublicKey()), authSecret: b64url(auth) }
}

const hkdf = (ikm, salt, info, length) => Buffer.from(hkdfSync('sha256', ikm, salt, info, length))

/** The plaintext of one aes128gcm push message body (a single record) for the subscription `keys`. */
export function decrypt (body, keys) {
  const salt = body.subarray(0, 16)
  const idLength = body[20]
  const senderKey = body.subarray(21, 21 + idLength)
  const record = body.subarray(21 + idLength)
  const secret = keys.ecdh.computeSecret(senderKey)
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), keys.ecdh.getPublicKey(), senderKey])
  const ikm = hkdf(secret, keys.auth, info, 32)
  const cek = hkdf(ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16)
  const nonce = hkdf(ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12)
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce)
  decipher.setAuthTag(record.subarray(record.length - 16))
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()])
  const end = padded.lastIndexOf(2) // the last record's delimiter, then zero padding
  return padded.subarray(0, end).toString('utf8')
}

/**
 * Check an `Authorization: vapid t=<jwt>, k=<key>` header: the JWT is signed (ES256) by the key `k`, which
 * must be `applicationServerKey` (base64url), for `audience` (the push service's origin), not expired.
 * Returns the JWT's claims; throws on any mismatch.
 */
export function checkVapid (header, applicationServerKey, audience) {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header || '')
  if (!match) throw new Error(`not a VAPID authorization: ${header}`)
  const [, jwt, key] = match
  if (key !== applicationServerKey) throw new Error(`signed with ${key}, subscribed with ${applicationServerKey}`)
  const point = Buffer.from(key, 'base64url')
  const publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)),
    y: b64url(point.subarray(33, 65)) }, format: 'jwk' })
  const [head, payload, signature] = jwt.split('.')
  const signed = verify('sha256', Buffer.from(`${head}.${payload}`), { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'))
  if (!signed) throw new Error('the VAPID signature does not verify')
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  if (claims.aud !== audience) throw new Error(`VAPID audience ${claims.aud}, expected ${audience}`)
  if (!(claims.exp * 1000 > Date.now())) throw new Error(`VAPID token expired: ${claims.exp}`)
  return claims
}
