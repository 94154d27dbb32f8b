// Keeps a list element in step with an array of messages, touching only the items that changed, so
// screen readers (role=log) announce new messages and not the whole list again.
export class KeyedList {
  /** `render(message)` builds an item; `signature(message)` changes whenever the item must be rebuilt. */
  constructor (list, render, signature) {
    this.list = list
    this.render = render
    this.signature = signature
    this.items = new Map() // id -> {node, sig}
  }

  update (messages) {
    const keep = new Set(messages.map((m) => m.id))
    for (const [id, entry] of this.items) {
      if (!keep.has(id)) { entry.node.remove(); this.items.delete(id) }
    }
    let cursor = this.list.firstElementChild
    for (const message of messages) {
      const sig = this.signature(message)
      let entry = this.items.get(message.id)
      if (!entry || (entry.sig !== sig && !entry.node.querySelector('.edit-box'))) { // never under the editor
        const node = this.render(message)
        if (entry) {
          if (entry.node === cursor) cursor = node
          entry.node.replaceWith(node)
        }
        entry = { node, sig }
        this.items.set(message.id, entry)
      }
      if (entry.node !== cursor) this.list.insertBefore(entry.node, cursor)
      else cursor = cursor.nextElementSibling
    }
  }

  clear () {
    this.items.clear()
    this.list.replaceChildren()
  }
}
