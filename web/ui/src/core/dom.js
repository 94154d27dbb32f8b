// A tiny DOM builder: h('button', {class: 'x', onclick: fn}, 'text', child) — no framework needed.

/** Create an element; attributes starting with "on" become listeners, `false`/`null` ones are skipped. */
export function h (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value)
    else if (key === 'class') node.className = value
    else if (key === 'dataset') Object.assign(node.dataset, value)
    else if (key in node && typeof value !== 'string') node[key] = value
    else node.setAttribute(key, value === true ? '' : value)
  }
  append(node, children)
  return node
}

/** Append children (strings, nodes, nested arrays; null/false skipped). */
export function append (node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue
    node.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return node
}

/** Replace all children of `node`. */
export function replace (node, ...children) {
  node.replaceChildren()
  return append(node, children)
}

/** Short local time for a message ("14:05"), or the date when it is not today. */
export function shortTime (iso) {
  const when = new Date(iso)
  const today = new Date().toDateString() === when.toDateString()
  return today ? when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : when.toLocaleDateString()
}

/** The visible name of a user reference. */
export const nameOf = (user) => (user && (user.display_name || user.username)) || 'someone'

/** A stable hue for a user id, for avatars and remote cursors. */
export function colorFor (id) {
  let hash = 0
  for (const ch of String(id)) hash = (hash * 31 + ch.charCodeAt(0)) | 0
  return `hsl(${Math.abs(hash) % 360} 65% 45%)`
}

const NUMBER = '[-+]?[\\d.]+(%|deg|turn|rad)?'
const COLOR = new RegExp(`^(#[0-9a-f]{3,8}|[a-z]{3,20}|(rgb|hsl)a?\\(\\s*${NUMBER}(\\s*[,/\\s]\\s*${NUMBER}){2,3}\\s*\\))$`, 'i')

/** `value` when it is a plain colour (#hex, a name, rgb()/hsl() of numbers), else null: what other people
 * send (awareness states) must not carry anything else into a `style`. */
export function safeColor (value) {
  return typeof value === 'string' && value.length <= 64 && COLOR.test(value) ? value : null
}

/** Announce a short status text to screen readers and sighted users (the #status region). */
export function announce (text, kind = 'info') {
  const region = document.getElementById('status')
  if (!region) return
  region.textContent = text
  region.dataset.kind = kind
  clearTimeout(announce.timer)
  announce.timer = setTimeout(() => { region.textContent = '' }, 6000)
}
