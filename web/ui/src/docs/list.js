// The documents screen: the caller's documents (owned or shared) and a form to create one.
import { h, replace, shortTime } from '../core/dom.js'
import { api } from '../core/api.js'
import { field, showErrors } from '../core/dialog.js'

export function documentsList () {
  const list = h('ul', { class: 'doc-list', 'aria-label': 'documents' }, h('li', {}, 'Loading…'))
  const title = h('input', { name: 'title', required: true, maxlength: 200, autocomplete: 'off' })
  const form = h('form', { class: 'inline-form', 'aria-label': 'new document' },
    field('New document title', title), h('button', { type: 'submit', class: 'primary' }, 'Create'),
    h('p', { class: 'form-error', role: 'alert' }))
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    try {
      const doc = await api('/documents', { method: 'POST', body: { title: title.value.trim() } })
      location.hash = `#/docs/${doc.id}`
    } catch (err) { showErrors(form, err) }
  })
  const node = h('section', { class: 'docs page', 'aria-labelledby': 'docs-title' },
    h('h1', { id: 'docs-title' }, 'Documents'), form, list)
  load(list)
  return node
}

async function load (list) {
  const items = []
  let cursor = null
  try {
    do {
      const page = await api('/documents', { query: { limit: 200, cursor } })
      items.push(...page.items)
      cursor = page.next_cursor
    } while (cursor)
  } catch (err) {
    replace(list, h('li', { class: 'form-error' }, err.message))
    return
  }
  items.sort((a, b) => b.updated_at.localeCompare(a.updated_at))
  replace(list, items.length ? items.map((doc) => h('li', {},
    h('a', { href: `#/docs/${doc.id}`, class: 'doc-link' }, h('strong', {}, doc.title),
      h('span', { class: `role role-${doc.role}` }, doc.role),
      h('span', { class: 'muted' }, `edited ${shortTime(doc.updated_at)}`))))
    : h('li', { class: 'empty' }, 'No documents yet: create the first one above.'))
}
