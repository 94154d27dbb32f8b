// The graphite-web dashboard in headless Chromium: waits until every panel's graph image has loaded, then
// takes a screenshot. `node tests/browser/dashboard.mjs <dashboard url> <out.png> <panel count>`
import { launch, step, check } from './lib.mjs'

const [url, out, panels] = process.argv.slice(2)
const browser = await launch()
try {
  const page = await browser.newPage({ viewport: { width: 1640, height: 1750 } })
  const errors = []
  page.on('pageerror', (err) => errors.push(err.message))
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`)
  })
  await step('open the dashboard', async () => {
    await page.goto(url)
    const loaded = () => page.evaluate(() => [...document.querySelectorAll('img')]
      .filter((img) => img.src.includes('/render') && img.complete && img.naturalWidth > 0).length)
    const deadline = Date.now() + 60_000
    while (await loaded() < Number(panels)) {
      check(Date.now() < deadline, `${await loaded()} of ${panels} graphs loaded; ${errors.join('; ')}`)
      await page.waitForTimeout(250)
    }
  })
  await step('screenshot', async () => {
    check(errors.length === 0, `errors: ${errors.join('; ')}`)
    await page.screenshot({ path: out, fullPage: true })
  })
} finally {
  await browser.close()
}
