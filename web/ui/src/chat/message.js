// One message as a list item: author with presence dot, text, attachments, reactions and its actions.
import { icon } from '../core/icons.js'
import { h, shortTime, nameOf } from '../core/dom.js'
import { avatar } from './avatars.js'
import { api, linkExpired } from '../core/api.js'

export const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '👀']

/** The author's name on one message: an incoming webhook may name its post (`display_name`). */
export const authorOf = (message) => message.display_name || nameOf(message.user)

/** A "bot" tag after a bot's name (bots' usernames end in [bot]; the API says `is_bot`). */
export const botBadge = (user) =>
  user && user.is_bot ? h('span', { class: 'bot-badge', title: 'bot account' }, 'bot') : null

/**
 * Render `message`. `ctx` = {me, online: Set, replies: count, actions: {react, thread, edit, remove, profile}}.
 * In the thread panel `ctx.inThread` hides the "reply in thread" action.
 */
export function renderMessage (message, ctx) {
  const mine = message.user.id === ctx.me.id
  const online = ctx.online.has(message.user.id)
  const item = h('li', { class: `msg${mine ? ' mine' : ''}${message.pending ? ' pending' : ''}`, id: `m-${message.id}`,
    dataset: { seq: message.seq, id: message.id }, tabindex: '-1' },
  avatar(message.user, online),
  h('div', { class: 'msg-body' },
    h('div', { class: 'msg-meta' },
      h('button', { type: 'button', class: 'link author', title: 'Show profile',
        onclick: () => ctx.actions.profile(message.user) }, authorOf(message)),
      botBadge(message.user),
      h('span', { class: 'sr-only' }, online ? ' (online)' : ' (offline)'),
      h('time', { datetime: message.created_at, title: new Date(message.created_at).toLocaleString() },
        shortTime(message.created_at)),
      message.is_edited && !message.is_deleted ? h('span', { class: 'edited' }, '(edited)') : null),
    message.is_deleted
      ? h('p', { class: 'msg-text deleted' }, 'This message was deleted.')
      : h('p', { class: 'msg-text', hidden: !message.content }, message.content),
    message.is_deleted ? null : attachments(message),
    message.is_deleted ? null : reactions(message, ctx),
    message.is_deleted || message.pending ? null : actions(message, mine, ctx)))
  if (!ctx.inThread && ctx.replies) {
    item.querySelector('.msg-body').append(h('button', { class: 'link thread-count', type: 'button',
      onclick: () => ctx.actions.thread(message) }, `${ctx.replies} ${ctx.replies === 1 ? 'reply' : 'replies'}`))
  }
  return item
}

/** Files as signed links (no token in any URL); a link that expired while the page stayed open is
 * fetched afresh with the message when clicked. A pending message only has file ids: no links yet. */
function attachments (message) {
  const list = message.attachments || []
  if (!list.length) return null
  return h('ul', { class: 'attachments', 'aria-label': 'attachments' }, list.map((file) => {
    if (typeof file === 'string') return h('li', { class: 'file' }, icon('clip'), 'attachment')
    const label = `${file.file_name}${file.file_size ? ` (${formatSize(file.file_size)})` : ''}`
    const link = { href: file.file_url, target: '_blank', rel: 'noopener', onclick: (event) => openFresh(event, message, file) }
    return h('li', {}, file.thumbnail_url
      ? h('a', link, h('img', { src: file.thumbnail_url, alt: file.file_name, loading: 'lazy', class: 'thumb' }))
      : h('a', { ...link, class: 'file' }, icon('clip'), label))
  }))
}

async function openFresh (event, message, file) {
  if (!linkExpired(event.currentTarget.href)) return
  event.preventDefault()
  const fresh = await api(`/messages/${message.id}`)
  const found = (fresh.attachments || []).find((a) => a.file_id === file.file_id)
  if (found) window.open(found.file_url, '_blank', 'noopener')
}

export function formatSize (bytes) {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

function reactions (message, ctx) {
  const entries = Object.entries(message.reactions || {}).filter(([, users]) => users.length)
  if (!entries.length) return null
  return h('div', { class: 'reactions' }, entries.map(([emoji, users]) => {
    const mine = users.includes(ctx.me.id)
    return h('button', { type: 'button', class: 'reaction', 'aria-pressed': String(mine),
      'aria-label': `${emoji} ${users.length}, ${mine ? 'remove your reaction' : 'react too'}`,
      onclick: () => ctx.actions.react(message, emoji, !mine) }, `${emoji} ${users.length}`)
  }))
}

function actions (message, mine, ctx) {
  const picker = h('div', { class: 'emoji-picker', hidden: true, role: 'group', 'aria-label': 'pick a reaction' },
    QUICK_EMOJI.map((emoji) => h('button', { type: 'button', 'aria-label': `react ${emoji}`,
      onclick: () => { picker.hidden = true; ctx.actions.react(message, emoji, true) } }, emoji)))
  return h('div', { class: 'msg-actions' },
    h('button', { type: 'button', class: 'icon', 'aria-label': 'add reaction', title: 'React',
      onclick: () => { picker.hidden = !picker.hidden } }, icon('smile')),
    ctx.inThread ? null : h('button', { type: 'button', class: 'icon', 'aria-label': 'reply in thread',
      title: 'Reply in thread', onclick: () => ctx.actions.thread(message) }, icon('thread')),
    mine ? h('button', { type: 'button', class: 'icon', 'aria-label': 'edit message', title: 'Edit',
      onclick: (event) => startEdit(event.target.closest('.msg'), message, ctx) }, icon('edit')) : null,
    mine ? h('button', { type: 'button', class: 'icon', 'aria-label': 'delete message', title: 'Delete',
      onclick: () => { if (confirm('Delete this message?')) ctx.actions.remove(message) } }, icon('trash')) : null,
    picker)
}

function startEdit (item, message, ctx) {
  const text = item.querySelector('.msg-text')
  const input = h('textarea', { class: 'edit-box', 'aria-label': 'edit message', rows: 2 })
  input.value = message.content
  const done = () => input.replaceWith(text)
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') done()
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault()
      const value = input.value.trim()
      if (value && value !== message.content) ctx.actions.edit(message, value)
      done()
    }
  })
  text.replaceWith(input)
  input.focus()
}
