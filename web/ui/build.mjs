// Builds the web UI into ../static: app-<hash>.js and app-<hash>.css (cached for good by the server, each
// with a precompressed .gz) and index.html (always revalidated) naming them. `node web/ui/build.mjs [folder]`
// from anywhere; no network needed.
import { build } from 'esbuild'
import { readFile, writeFile, readdir, rm, mkdir } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const out = path.resolve(process.argv[2] || path.join(here, '..', 'static')) // a folder argument: build elsewhere

await mkdir(out, { recursive: true })
for (const name of await readdir(out)) {
  if (/^app-[A-Z0-9]+\.(js|css)(\.gz)?$/.test(name) || name === 'index.html' || name === 'sw.js') await rm(path.join(out, name))
}

const result = await build({
  entryPoints: [path.join(here, 'src', 'main.js')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome105', 'firefox110', 'safari16'],
  outdir: out,
  entryNames: 'app-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning'
})

const outputs = Object.keys(result.metafile.outputs).map((file) => path.basename(file))
const js = outputs.find((f) => f.endsWith('.js'))
const css = outputs.find((f) => f.endsWith('.css'))
const template = await readFile(path.join(here, 'src', 'index.html'), 'utf8')
await writeFile(path.join(out, 'index.html'), template.replace('{{js}}', js).replace('{{css}}', css))
// the service worker keeps a fixed name (its scope and registration depend on it): served as /sw.js
await writeFile(path.join(out, 'sw.js'), await readFile(path.join(here, 'src', 'sw.js')))

for (const name of [js, css, 'index.html']) {
  const bytes = await readFile(path.join(out, name))
  const packed = gzipSync(bytes, { level: 9 })
  if (name !== 'index.html') await writeFile(path.join(out, `${name}.gz`), packed) // served to gzip clients
  console.log(`${name.padEnd(24)} ${(bytes.length / 1024).toFixed(1).padStart(7)} KiB  (gzip ${(packed.length / 1024).toFixed(1)} KiB)`)
}
