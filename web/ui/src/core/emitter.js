// A minimal event emitter for view models: on(name, fn) returns an unsubscribe function.
export class Emitter {
  constructor () { this.handlers = new Map() }

  on (name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set())
    this.handlers.get(name).add(fn)
    return () => this.handlers.get(name).delete(fn)
  }

  emit (name, ...args) {
    for (const fn of this.handlers.get(name) || []) fn(...args)
  }
}
