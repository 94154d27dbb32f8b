// The collaborative editor: CodeMirror 6 bound to the document's Y.Text `content` through y-websocket's
// provider on /yjs/{id} (the real Yjs stack), with everyone's cursors and names from awareness. Viewers get
// a read-only editor: it refuses typing locally, and the server refuses their updates anyway.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import { EditorState } from '@codemirror/state'
import { EditorView, keymap, drawSelection, highlightActiveLine } from '@codemirror/view'
import { defaultKeymap, indentWithTab } from '@codemirror/commands'
import { h, replace, colorFor, safeColor, announce, nameOf } from '../core/dom.js'
import { api, socketUrl } from '../core/api.js'
import { accessToken, onChange, current } from '../core/session.js'
import { shareDialog } from './share.js'

const ACCESS_CHECK_AFTER_CLOSES = 3
const POLICY_VIOLATION = 1008

const translucent = (hsl) => `${hsl.slice(0, -1)} / 0.25)`

/** Remote cursors and the people list put `user.color` into styles: a state whose colours are not plain
 * colours gets ones derived from its client id. Registered before the editor's own listeners. */
function checkColors (awareness) {
  for (const [clientId, state] of awareness.getStates()) {
    const user = state && state.user
    if (user && !(safeColor(user.color) && safeColor(user.colorLight))) {
      user.color = colorFor(String(clientId))
      user.colorLight = translucent(user.color)
    }
  }
}

export class DocumentEditor {
  constructor (doc) {
    this.doc = doc
    const me = current().user
    const canEdit = doc.role === 'owner' || doc.role === 'editor'
    this.ydoc = new Y.Doc()
    this.provider = new WebsocketProvider(socketUrl('/yjs'), doc.id, this.ydoc,
      { params: { token: accessToken() }, disableBc: true })
    this.offSession = onChange((s) => { if (s) this.provider.params = { token: s.access } })
    const color = colorFor(me.id)
    this.provider.awareness.setLocalStateField('user', { name: nameOf(me), color, colorLight: translucent(color), id: me.id })
    for (const event of ['change', 'update']) this.provider.awareness.on(event, () => checkColors(this.provider.awareness))
    const ytext = this.ydoc.getText('content')
    this.view = new EditorView({
      state: EditorState.create({
        doc: ytext.toString(),
        extensions: [
          keymap.of([...yUndoManagerKeymap, ...defaultKeymap, indentWithTab]),
          drawSelection(), highlightActiveLine(), EditorView.lineWrapping,
          EditorView.contentAttributes.of({ 'aria-label': `${doc.title} text`, 'aria-readonly': String(!canEdit) }),
          yCollab(ytext, this.provider.awareness, { undoManager: new Y.UndoManager(ytext) }),
          canEdit ? [] : [EditorState.readOnly.of(true), EditorView.editable.of(false)]
        ]
      })
    })
    this.status = h('span', { class: 'link-state', role: 'status' }, 'Connecting…')
    this.people = h('ul', { class: 'people', 'aria-label': 'people in this document' })
    this.title = h('h1', { id: 'doc-title' }, doc.title)
    this.node = h('section', { class: 'doc-editor page', 'aria-labelledby': 'doc-title' },
      h('header', { class: 'doc-header' },
        h('a', { href: '#/docs', class: 'back' }, '← Documents'),
        this.title,
        h('span', { class: `role role-${doc.role}` }, doc.role),
        this.status,
        h('div', { class: 'doc-actions' },
          canEdit ? h('button', { type: 'button', onclick: () => this.rename() }, 'Rename') : null,
          doc.role === 'owner' ? h('button', { type: 'button', onclick: () => shareDialog(doc) }, 'Share') : null,
          h('a', { class: 'button', href: `#/docs/${doc.id}/history` }, 'History'))),
      canEdit ? null : h('p', { class: 'notice', role: 'note' }, 'You are a viewer: you can read along, not edit.'),
      this.people,
      h('div', { class: `editor${canEdit ? '' : ' readonly'}` }, this.view.dom))
    this.closes = 0
    this.provider.on('status', ({ status }) => {
      this.status.textContent = status === 'connected' ? 'Connected' : status === 'connecting' ? 'Connecting…' : 'Offline'
      this.status.dataset.state = status
    })
    this.provider.on('sync', (synced) => { if (synced) { this.closes = 0; this.status.textContent = 'Saved live' } })
    this.provider.on('connection-close', (event) => this.closed(event))
    this.provider.awareness.on('change', () => this.renderPeople())
    this.renderPeople()
  }

  /** The server closes with 1008 when the token or the access is gone: after a few, ask why. */
  async closed (event) {
    if (!event || event.code !== POLICY_VIOLATION || ++this.closes < ACCESS_CHECK_AFTER_CLOSES) return
    try {
      await api(`/documents/${this.doc.id}`)
    } catch (err) {
      if (err.code === 'NOT_FOUND') {
        this.provider.disconnect()
        this.status.textContent = 'No access'
        announce('This document was deleted or is no longer shared with you.', 'error')
      }
    }
  }

  renderPeople () {
    const states = [...this.provider.awareness.getStates().entries()]
    replace(this.people, states.filter(([, s]) => s.user).map(([clientId, s]) =>
      h('li', { style: `--who:${s.user.color}` }, h('span', { class: 'dot', 'aria-hidden': 'true' }),
        s.user.name, clientId === this.ydoc.clientID ? ' (you)' : '')))
  }

  async rename () {
    const title = prompt('New title', this.doc.title)
    if (!title || !title.trim()) return
    try {
      this.doc = { ...this.doc, ...(await api(`/documents/${this.doc.id}`, { method: 'PATCH', body: { title: title.trim() } })) }
      this.title.textContent = this.doc.title
    } catch (err) { announce(err.describe(), 'error') }
  }

  focus () { this.view.focus() }

  destroy () {
    this.offSession()
    this.provider.destroy()
    this.view.destroy()
    this.ydoc.destroy()
  }
}
