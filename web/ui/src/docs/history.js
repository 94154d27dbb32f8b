// A document's history: its versions (newest first, paged), the content at a chosen version, and for
// editors a restore (applied as one new update on the server, never a rebuilt CRDT).
import { h, replace, shortTime, announce } from '../core/dom.js'
import { api } from '../core/api.js'

const PAGE = 50

export function historyView (doc) {
  const list = h('ol', { class: 'versions', 'aria-label': 'versions' })
  const more = h('button', { type: 'button', hidden: true }, 'Older versions')
  const preview = h('div', { class: 'version-preview', 'aria-live': 'polite' },
    h('p', { class: 'muted' }, 'Choose a version to see the text as it was.'))
  const canRestore = doc.role === 'owner' || doc.role === 'editor'
  const names = new Map()
  let before = null

  const author = async (id) => {
    if (!names.has(id)) names.set(id, api(`/users/${id}`).then((u) => u.display_name || u.username).catch(() => 'someone'))
    return names.get(id)
  }

  const show = async (version, button) => {
    for (const b of list.querySelectorAll('button[aria-pressed]')) b.setAttribute('aria-pressed', 'false')
    button.setAttribute('aria-pressed', 'true')
    try {
      const body = await api(`/documents/${doc.id}/versions/${version}`)
      replace(preview, h('h2', {}, `Version ${version}`),
        h('pre', { class: 'version-text', tabindex: '0', 'aria-label': `text at version ${version}` }, body.content || '(empty)'),
        canRestore ? h('button', { type: 'button', class: 'primary', onclick: () => restore(version) }, 'Restore this version') : null)
    } catch (err) { replace(preview, h('p', { class: 'form-error' }, err.message)) }
  }

  const restore = async (version) => {
    if (!confirm(`Make version ${version} the current text? Everyone editing sees the change.`)) return
    try {
      await api(`/documents/${doc.id}/versions/${version}/restore`, { method: 'POST' })
      announce(`Restored version ${version}`)
      location.hash = `#/docs/${doc.id}`
    } catch (err) { announce(err.message, 'error') }
  }

  const load = async () => {
    const page = await api(`/documents/${doc.id}/history`, { query: { limit: PAGE, before } })
    for (const item of page.items) {
      const button = h('button', { type: 'button', class: 'version', 'aria-pressed': 'false',
        onclick: () => show(item.version, button) },
      h('strong', {}, `v${item.version}`), h('time', { datetime: item.created_at }, shortTime(item.created_at)),
      h('span', { class: 'muted author' }, '…'))
      author(item.author_id).then((name) => { button.querySelector('.author').textContent = name })
      list.append(h('li', {}, button))
    }
    before = page.items.length ? page.items.at(-1).version : before
    more.hidden = !page.next_cursor
    if (!list.children.length) list.append(h('li', { class: 'muted' }, 'No edits yet.'))
  }
  more.addEventListener('click', load)
  load().catch((err) => replace(list, h('li', { class: 'form-error' }, err.message)))

  return h('section', { class: 'doc-history page', 'aria-labelledby': 'history-title' },
    h('header', { class: 'doc-header' }, h('a', { href: `#/docs/${doc.id}`, class: 'back' }, '← Back to the document'),
      h('h1', { id: 'history-title' }, `History of “${doc.title}”`)),
    h('div', { class: 'history-layout' }, h('div', {}, list, more), preview))
}
