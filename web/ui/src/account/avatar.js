// The avatar control of the settings screen: pick an image, it is uploaded (POST /upload) and becomes the
// avatar (PUT /users/me avatar_file_id); "Remove" clears it. Everyone who sees the user sees the image.
import { h, replace } from '../core/dom.js'
import { api } from '../core/api.js'
import { field, onSubmit } from '../core/dialog.js'
import { current, updateUser } from '../core/session.js'
import { avatar, learnAvatar } from '../chat/avatars.js'

export function avatarForm () {
  const preview = h('div', { class: 'avatar-preview' })
  const file = h('input', { name: 'avatar_file_id', type: 'file', accept: 'image/png,image/jpeg,image/gif,image/webp' })
  const remove = h('button', { type: 'button' }, 'Remove avatar')
  const form = h('form', { class: 'stack', 'aria-label': 'avatar' },
    preview, field('Avatar image', file),
    h('p', { class: 'form-error', role: 'alert' }), h('p', { class: 'form-ok', role: 'status' }),
    h('div', { class: 'button-row' }, h('button', { type: 'submit', class: 'primary' }, 'Use as avatar'), remove))

  const show = () => {
    const me = current().user
    replace(preview, avatar(me, null, { large: true }))
    remove.hidden = !me.avatar_url
  }
  const save = async (fileId) => {
    const user = await api('/users/me', { method: 'PUT', body: { avatar_file_id: fileId } })
    updateUser({ ...current().user, ...user })
    learnAvatar(user)
    show()
  }
  onSubmit(form, async () => {
    if (!file.files.length) throw Object.assign(new Error('Pick an image first.'), { details: {} })
    const body = new FormData()
    body.append('file', file.files[0])
    const uploaded = await api('/upload', { method: 'POST', form: body })
    await save(uploaded.file_id)
    file.value = ''
    return 'Avatar saved.'
  })
  remove.addEventListener('click', async () => {
    remove.disabled = true
    try {
      await save(null)
      form.querySelector('.form-ok').textContent = 'Avatar removed.'
    } finally {
      remove.disabled = false
    }
  })
  learnAvatar(current().user)
  show()
  return form
}
