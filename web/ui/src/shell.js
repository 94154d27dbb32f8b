// The signed-in frame: top bar (sections, connection state, notifications, user, sign out) and the main
// area the router fills. On narrow screens a button shows or hides the room list.
import { icon } from './core/icons.js'
import { h } from './core/dom.js'
import { logout } from './core/session.js'
import { nameOf } from './core/dom.js'

const LINK_TEXT = { connecting: 'Connecting…', open: 'Online', offline: 'Reconnecting…' }

export function shell (me, notificationsNode) {
  const link = h('span', { class: 'link-state', role: 'status', dataset: { state: 'connecting' } }, LINK_TEXT.connecting)
  const menu = h('button', { type: 'button', class: 'icon menu', 'aria-label': 'show rooms', 'aria-expanded': 'false',
    onclick: () => {
      const open = document.body.classList.toggle('rooms-open')
      menu.setAttribute('aria-expanded', String(open))
    } }, icon('menu'))
  const main = h('main', { id: 'main', class: 'app-main', tabindex: '-1' })
  const nav = (href, text) => h('a', { href, class: 'nav-link', dataset: { section: href.split('/')[1] } }, text)
  const node = h('div', { class: 'app' },
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    h('header', { class: 'topbar' },
      menu,
      h('span', { class: 'brand' }, 'Confab'),
      h('nav', { class: 'sections', 'aria-label': 'sections' }, nav('#/chat', 'Chat'), nav('#/docs', 'Documents'), nav('#/settings', 'Settings'),
        me.is_server_admin ? nav('#/admin', 'Admin') : null),
      h('span', { class: 'spacer' }),
      link,
      notificationsNode,
      h('span', { class: 'me', title: `@${me.username}` }, nameOf(me)),
      h('button', { type: 'button', class: 'subtle', onclick: () => logout() }, 'Sign out')),
    main)
  return {
    node,
    main,
    setLink (state) {
      link.dataset.state = state
      link.textContent = LINK_TEXT[state]
    },
    setSection (section) {
      for (const a of node.querySelectorAll('.nav-link')) {
        if (a.dataset.section === section) a.setAttribute('aria-current', 'page')
        else a.removeAttribute('aria-current')
      }
      document.body.classList.remove('rooms-open')
      menu.setAttribute('aria-expanded', 'false')
      menu.hidden = section !== 'chat'
    }
  }
}
