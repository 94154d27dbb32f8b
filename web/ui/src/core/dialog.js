// Modal dialogs on the native <dialog> element: focus is trapped, Escape closes, focus returns after.
import { icon } from './icons.js'
import { h } from './dom.js'

/** Open a modal with a title and content; returns {node, close}. */
export function openDialog (title, ...content) {
  const opener = document.activeElement
  const titleId = `dlg-${Math.random().toString(36).slice(2, 8)}`
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
    h('header', {}, h('h2', { id: titleId }, title),
      h('button', { type: 'button', class: 'icon', 'aria-label': 'close', onclick: () => close() }, icon('close'))),
    ...content)
  const close = () => { if (dialog.open) dialog.close() }
  dialog.addEventListener('close', () => {
    dialog.remove()
    if (opener && opener.focus) opener.focus()
  })
  document.body.append(dialog)
  dialog.showModal()
  return { node: dialog, close }
}

/** A labelled form field: label + input (or select) + the field's error line. */
export function field (label, input) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 8)}`
  input.id = id
  const error = h('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite' })
  input.setAttribute('aria-describedby', error.id)
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, error)
}

/** Show an HttpError on a form: per-field messages next to their inputs, the rest in `.form-error`. */
export function showErrors (form, err) {
  for (const node of form.querySelectorAll('.field-error')) node.textContent = ''
  const fields = (err.details && err.details.fields) || {}
  let placed = false
  for (const [name, messages] of Object.entries(fields)) {
    const input = form.querySelector(`[name="${name}"]`)
    if (input) {
      form.querySelector(`#${input.id}-error`).textContent = [].concat(messages).join(' ')
      input.setAttribute('aria-invalid', 'true')
      placed = true
    }
  }
  const general = form.querySelector('.form-error')
  if (general) general.textContent = placed ? '' : err.message
}

/**
 * Wire a form: `action()` runs on submit with the submit button disabled; an HttpError it throws shows on
 * the form (showErrors), a string it resolves to shows in the form's `.form-ok` line.
 */
export function onSubmit (form, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const button = form.querySelector('button[type=submit]')
    const ok = form.querySelector('.form-ok')
    button.disabled = true
    if (ok) ok.textContent = ''
    for (const node of form.querySelectorAll('.field-error, .form-error')) node.textContent = ''
    for (const node of form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid')
    try {
      const message = await action()
      if (ok && typeof message === 'string') ok.textContent = message
    } catch (err) {
      showErrors(form, err)
    } finally {
      button.disabled = false
    }
  })
  return form
}
