// A search snippet is HTML from the server: the message text escaped, the matches wrapped in <mark>. Only
// those two markers become markup; everything between them is un-escaped into plain text nodes, so a
// message can never inject an element, whatever it contains.
import { h } from '../core/dom.js'

const NAMED = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

/** The text an escaped HTML fragment stands for (&amp; &lt; &gt; &quot; &#39; &#x27;…). */
export function unescapeHtml (text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (entity, name) => {
    if (name[0] !== '#') return NAMED[name.toLowerCase()] ?? entity
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10)
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : entity
  })
}

/** Nodes for `snippet`: text nodes and <mark> elements holding text, nothing else. */
export function snippetNodes (snippet) {
  const nodes = []
  for (const [index, part] of String(snippet).split(/<\/?mark>/).entries()) {
    if (!part) continue
    const text = unescapeHtml(part)
    nodes.push(index % 2 ? h('mark', {}, text) : document.createTextNode(text))
  }
  return nodes
}
