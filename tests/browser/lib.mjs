// Shared helpers of the browser scenarios: headless Debian Chromium driven by playwright-core (installed in
// web/ui/node_modules), one browser context per user, screenshots into the output folder.
import { createRequire } from 'node:module'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const { chromium } = createRequire(path.join(root, 'web', 'ui', 'package.json'))('playwright-core')

export const TIMEOUT_MS = 15_000

export async function launch () {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update']
  })
}

/**
 * Run a scenario script (`node tests/browser/<script> <base_url> <output_dir> <more…>`, `more` naming the
 * extra arguments) and exit: 0 when `body({base, outDir, args, browser, users})` resolved and no page of the
 * users it pushed into `users` raised an error; on a failure each user's page is screenshotted.
 */
export async function runScenario (script, more, body) {
  const [base, outDir, ...args] = process.argv.slice(2)
  if (!base || !outDir || args.length < more.length) {
    console.error(`usage: node tests/browser/${script} <base_url> <output_dir> ${more.join(' ')}`)
    process.exit(2)
  }
  const browser = await launch()
  const users = []
  let failed = false
  try {
    await body({ base, outDir, args, browser, users })
    const errors = users.flatMap((u) => u.errors)
    check(errors.length === 0, `errors in the pages: ${errors.join(' | ')}`)
  } catch (err) {
    failed = true
    console.error(err.stack || err.message)
    for (const user of users) await user.page.screenshot({ path: path.join(outDir, `failure-${user.username}.png`) }).catch(() => {})
  } finally {
    await browser.close()
  }
  process.exit(failed ? 1 : 0)
}

/** Steps print as they go, so a failure shows where it happened. */
export async function step (name, fn) {
  const started = Date.now()
  try {
    await fn()
    console.log(`ok   ${name} (${Date.now() - started} ms)`)
  } catch (err) {
    console.log(`FAIL ${name}: ${err.message}`)
    throw err
  }
}

export function check (condition, message) {
  if (!condition) throw new Error(message)
}

/** A user in a browser context of their own; page errors are collected and fail the run at the end. */
export async function openUser (browser, base, username, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport, baseURL: base })
  context.setDefaultTimeout(TIMEOUT_MS)
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (err) => errors.push(`${username}: ${err.message}`))
  return { username, context, page, errors }
}

/** Fill in and send the sign-up form (e-mail <username>@example.com). */
export async function submitSignUp (user, base, password = 'correct horse battery') {
  const { page } = user
  await page.goto(base)
  await page.getByRole('link', { name: 'Create an account' }).click()
  await page.getByLabel('Username', { exact: true }).fill(user.username)
  await page.getByLabel('Display name (optional)').fill(user.username[0].toUpperCase() + user.username.slice(1))
  await page.getByLabel('Email').fill(`${user.username}@example.com`)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
}

/** Sign up through the UI; the app then shows the chat screen. */
export async function signUp (user, base) {
  await submitSignUp(user, base)
  await user.page.getByRole('heading', { name: 'Pick a room' }).waitFor()
}

export function screenshots (outDir) {
  mkdirSync(outDir, { recursive: true })
  return async (page, name) => {
    await page.screenshot({ path: path.join(outDir, `${name}.png`) })
    console.log(`     screenshot ${path.join(outDir, `${name}.png`)}`)
  }
}

/** Send a chat message from the open room's composer with the keyboard (Enter). */
export async function say (page, text) {
  const box = page.locator('.room .compose-input')
  await box.fill(text)
  await box.press('Enter')
  await page.locator('.room .msg:not(.pending) .msg-text', { hasText: text }).waitFor()
}

/** The text a CodeMirror editor shows, without the remote cursors' name widgets. */
export function editorText (page) {
  return page.locator('.cm-content').evaluate((content) => [...content.querySelectorAll('.cm-line')].map((line) => {
    const copy = line.cloneNode(true)
    for (const widget of copy.querySelectorAll('.cm-ySelectionCaret, .cm-widgetBuffer')) widget.remove()
    return copy.textContent
  }).join('\n'))
}

/** Poll `fn` until it returns a truthy value (or throw after the timeout with `message`). */
export async function eventually (fn, message, timeoutMs = TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs
  let last
  while (Date.now() < deadline) {
    last = await fn()
    if (last) return last
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${message} (last: ${JSON.stringify(last)})`)
}
