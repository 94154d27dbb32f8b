// Entry point and hash router: #/login, #/signup, #/forgot, #/reset[/<code>], #/verify[/<code>],
// #/chat[/<room>[/<message>]], #/docs[/<id>[/history]], #/settings, #/admin.
import './app.css'
import { h, replace } from './core/dom.js'
import { current, onChange } from './core/session.js'
import { api } from './core/api.js'
import { loginView, signupView } from './auth/forms.js'
import { forgotView, resetView } from './auth/recovery.js'
import { verifyView } from './auth/verify.js'
import { shell } from './shell.js'
import { ChatApp } from './chat/app.js'
import { documentsList } from './docs/list.js'
import { DocumentEditor } from './docs/editor.js'
import { historyView } from './docs/history.js'
import { settingsView } from './account/settings.js'
import { adminView } from './account/admin.js'
import { learnAvatar } from './chat/avatars.js'

const root = document.getElementById('app')
let app = null // {frame, chat, userId} while signed in
let page = null // the current page object with destroy(), if any

function signedIn (session) {
  if (app && app.userId === session.user.id) return app
  signOut()
  learnAvatar(session.user)
  let frame = null // the socket reports its state from the start; the frame shows it once it exists
  const chat = new ChatApp(session.user, (state) => frame && frame.setLink(state))
  frame = shell(session.user, chat.notifications.node)
  app = { frame, chat, userId: session.user.id }
  replace(root, frame.node)
  return app
}

function signOut () {
  if (!app) return
  app.chat.stop()
  app = null
}

function leavePage () {
  if (page && page.destroy) page.destroy()
  page = null
}

const SIGNED_OUT = { signup: signupView, forgot: forgotView }
const CODE_PAGES = { reset: resetView, verify: verifyView }

async function route () {
  const session = current()
  const [section = '', id, extra] = location.hash.replace(/^#\/?/, '').split('/')
  const codePage = (!session || id) && CODE_PAGES[section] // the links in e-mails open these, signed in or not
  if (!session || codePage) {
    signOut()
    leavePage()
    const view = codePage || SIGNED_OUT[section] || loginView
    replace(root, view(id))
    return
  }
  if (section === 'login' || section in SIGNED_OUT || !section) { location.hash = '#/chat'; return }
  const { frame, chat } = signedIn(session)
  frame.setSection(section)
  leavePage()
  if (section === 'chat') {
    if (!frame.main.contains(chat.node)) replace(frame.main, chat.node)
    if (id) chat.open(id, extra || null)
    else chat.showEmpty()
    document.title = 'Chat · Confab'
  } else if (section === 'docs') {
    if (!id) {
      replace(frame.main, documentsList())
      document.title = 'Documents · Confab'
      return
    }
    replace(frame.main, h('p', { class: 'page muted' }, 'Opening…'))
    try {
      const doc = await api(`/documents/${id}`)
      if (location.hash.split('/')[2] !== id) return // navigated away meanwhile
      if (extra === 'history') {
        replace(frame.main, historyView(doc))
      } else {
        page = new DocumentEditor(doc)
        replace(frame.main, page.node)
        page.focus()
      }
      document.title = `${doc.title} · Confab`
    } catch (err) {
      replace(frame.main, h('div', { class: 'page' }, h('h1', {}, 'Document unavailable'), h('p', {}, err.message),
        h('a', { href: '#/docs' }, 'Back to documents')))
    }
  } else if (section === 'settings') {
    replace(frame.main, settingsView())
    document.title = 'Settings · Confab'
  } else if (section === 'admin' && session.user.is_server_admin) {
    replace(frame.main, adminView())
    document.title = 'Administration · Confab'
  } else {
    location.hash = '#/chat'
  }
}

let shownUser = current() && current().user.id
onChange((session) => { // sign-in and sign-out re-route; a quiet token refresh does not
  const user = session && session.user.id
  if (user !== shownUser) { shownUser = user; route() }
})
window.addEventListener('hashchange', route)
route()
