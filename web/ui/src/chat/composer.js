// The message box: Enter sends, Shift+Enter adds a line, typing is announced (throttled) and files are
// uploaded first, then sent as attachment ids.
import { icon } from '../core/icons.js'
import { h, replace, announce } from '../core/dom.js'
import { api } from '../core/api.js'
import { formatSize } from './message.js'

const TYPING_REFRESH_MS = 3000
const TYPING_IDLE_MS = 4000

/**
 * `send({content, attachments})` returns a promise; `typing(isTyping)` tells the room.
 * Returns the form element.
 */
export function composer ({ label, placeholder, send, typing }) {
  const files = []
  let typingSince = 0
  let idleTimer = null
  const inputId = `compose-${Math.random().toString(36).slice(2, 8)}`
  const box = h('textarea', { id: inputId, rows: 1, placeholder, class: 'compose-input', autocomplete: 'off' })
  const chips = h('ul', { class: 'chips', 'aria-label': 'files to send' })
  const picker = h('input', { type: 'file', hidden: true, multiple: true, 'aria-label': 'Attach files' })

  const stopTyping = () => {
    clearTimeout(idleTimer)
    if (typingSince) { typingSince = 0; typing(false) }
  }

  const renderChips = () => replace(chips, files.map((file, index) =>
    h('li', { class: 'chip' }, file.preview ? h('img', { src: file.preview, alt: '' }) : null,
      `${file.file_name} (${formatSize(file.file_size)})`,
      h('button', { type: 'button', class: 'icon', 'aria-label': `remove ${file.file_name}`,
        onclick: () => { files.splice(index, 1); renderChips() } }, icon('close')))))

  picker.addEventListener('change', async () => {
    for (const file of picker.files) {
      const form = new FormData()
      form.append('file', file)
      announce(`Uploading ${file.name}…`)
      try {
        const uploaded = await api('/upload', { method: 'POST', form })
        files.push({ ...uploaded, preview: file.type.startsWith('image/') ? URL.createObjectURL(file) : null })
        renderChips()
        announce(`${file.name} is ready to send`)
      } catch (err) {
        announce(`Could not upload ${file.name}: ${err.describe ? err.describe() : err.message}`, 'error')
      }
    }
    picker.value = ''
  })

  const submit = async () => {
    const content = box.value.trim()
    if (!content && !files.length) return
    const attachments = files.map((f) => f.file_id)
    box.value = ''
    files.length = 0
    renderChips()
    stopTyping()
    try {
      await send({ content, attachments }) // files alone are a message too
      if (attachments.length) announce('')
    } catch (err) {
      box.value = content
      announce(`Not sent: ${err.message}`, 'error')
    }
  }

  box.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault()
      submit()
    }
  })
  box.addEventListener('input', () => {
    const now = Date.now()
    if (now - typingSince > TYPING_REFRESH_MS) { typingSince = now; typing(true) }
    clearTimeout(idleTimer)
    idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS)
  })
  box.addEventListener('blur', stopTyping)

  return h('form', { class: 'composer', onsubmit: (event) => { event.preventDefault(); submit() } },
    chips,
    h('div', { class: 'compose-row' },
      h('button', { type: 'button', class: 'icon attach', title: 'Attach files', 'aria-label': 'Attach files',
        onclick: () => picker.click() }, icon('clip')),
      picker,
      h('label', { for: inputId, class: 'sr-only' }, label),
      box,
      h('button', { type: 'submit', class: 'primary' }, 'Send')))
}
