// Account recovery in headless Chromium against a server that e-mails (auth.email_verification = on): two
// people sign up and confirm their address (one pasting the code after asking for a new one, one opening
// the e-mailed link), one sets an avatar the other then sees on her messages, and she resets a forgotten
// password through the e-mailed link.
// Usage: node tests/browser/recovery.mjs <base_url> <output_dir> <mail_spool_dir>, the spool holding one JSON
// file per e-mail received ({to, subject, body}, tests/support/smtp_sink.py). Exit status 0 when every step passed.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { deflateSync, crc32 } from 'node:zlib'
import { runScenario, openUser, submitSignUp, step, check, screenshots, say, eventually } from './lib.mjs'

/** The e-mails to `address` so far, oldest first. */
function mailTo (spool, address) {
  return readdirSync(spool).sort().map((name) => JSON.parse(readFileSync(path.join(spool, name), 'utf8')))
    .filter((mail) => mail.to === address).map((mail) => ({ ...mail, body: mail.body.replace(/\r\n/g, '\n') }))
}

/** Wait for e-mail number `count` to `address`; its link into the UI (checked against the base URL) and code. */
async function nthMail (base, spool, address, count, page) {
  const mail = await eventually(() => mailTo(spool, address)[count - 1], `e-mail ${count} to ${address}`)
  const link = mail.body.match(new RegExp(`^(${base.replace(/[.]/g, '\\.')}/#/${page}/([A-Za-z0-9_-]{40,}))$`, 'm'))
  check(link, `the e-mail links to ${base}/#/${page}/<code>: ${mail.body}`)
  check(mail.body.includes(`\n${link[2]}\n`), 'the bare code is in the e-mail too, for API clients')
  return { link: link[1], code: link[2] }
}

/** A 24×24 PNG of one colour (an avatar to upload). */
function png (r, g, b, size = 24) {
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length)
    out.writeUInt32BE(data.length, 0)
    out.write(type, 4, 'latin1')
    data.copy(out, 8)
    out.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), data])), 8 + data.length)
    return out
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header.set([8, 2, 0, 0, 0], 8) // 8 bits, truecolour
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array(size).fill([r, g, b]).flat())])
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(Array(size).fill(row)))), chunk('IEND', Buffer.alloc(0))])
}

async function signUpForm (user, base, password) {
  await submitSignUp(user, base, password)
  await user.page.getByRole('heading', { name: 'Confirm your e-mail' }).waitFor()
}

async function signIn (page, identity, password) {
  await page.getByLabel('Username or email').fill(identity)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

await runScenario('recovery.mjs', ['<mail_spool_dir>'], async ({ base, outDir, args: [spool], browser, users }) => {
  const shot = screenshots(outDir)
  const dora = await openUser(browser, base, 'dora')
  const eli = await openUser(browser, base, 'eli')
  users.push(dora, eli)

  await step('dora signs up and is asked for the e-mailed code', async () => {
    await signUpForm(dora, base, 'first password here')
    await dora.page.getByText('We sent a link and a code to dora@example.com').waitFor()
    await shot(dora.page, 'verify')
  })
  await step('a wrong code is refused on the form', async () => {
    await dora.page.getByLabel('Code', { exact: true }).fill('not-the-code-at-all')
    await dora.page.getByRole('button', { name: 'Confirm address' }).click()
    await dora.page.locator('.field-error', { hasText: /invalid, expired or already used/ }).waitFor()
  })
  await step('dora asks for a new code; the first one stops working and the new one signs her in', async () => {
    const first = await nthMail(base, spool, 'dora@example.com', 1, 'verify')
    await dora.page.getByRole('button', { name: 'Send a new code' }).click()
    await dora.page.getByRole('status').filter({ hasText: /a code is on its way/ }).waitFor()
    const second = await nthMail(base, spool, 'dora@example.com', 2, 'verify')
    check(second.code !== first.code, 'a new code')
    await dora.page.getByLabel('Code', { exact: true }).fill(first.code)
    await dora.page.getByRole('button', { name: 'Confirm address' }).click()
    await dora.page.locator('.field-error', { hasText: /invalid, expired or already used/ }).waitFor()
    await dora.page.getByLabel('Code', { exact: true }).fill(second.code)
    await dora.page.getByRole('button', { name: 'Confirm address' }).click()
    await dora.page.getByRole('heading', { name: 'Pick a room' }).waitFor()
  })
  await step('eli confirms by opening the link: the code leaves the address bar, then he signs in', async () => {
    await signUpForm(eli, base, 'eli password here')
    const { link } = await nthMail(base, spool, 'eli@example.com', 1, 'verify')
    const fresh = await eli.context.newPage() // the link opens in a new tab, as from a mail client
    await fresh.goto(link)
    await fresh.getByRole('status').filter({ hasText: 'Your address is confirmed' }).waitFor()
    check(fresh.url().endsWith('#/login'), `no code in the address bar: ${fresh.url()}`)
    await signIn(fresh, 'eli', 'eli password here')
    await fresh.getByRole('heading', { name: 'Pick a room' }).waitFor()
    await fresh.close()
    await eli.page.getByRole('heading', { name: 'Pick a room' }).waitFor() // the first tab follows the sign-in
  })
  await step('dora sets an avatar in settings', async () => {
    const page = dora.page
    await page.getByRole('link', { name: 'Settings' }).click()
    const form = page.getByRole('form', { name: 'avatar' })
    await form.getByRole('button', { name: 'Use as avatar' }).click()
    await form.getByRole('alert').filter({ hasText: 'Pick an image first.' }).waitFor()
    await form.getByLabel('Avatar image').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') })
    await form.getByRole('button', { name: 'Use as avatar' }).click()
    await form.locator('.field-error, .form-error').filter({ hasText: /image/ }).first().waitFor()
    await form.getByLabel('Avatar image').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(220, 40, 120) })
    await form.getByRole('button', { name: 'Use as avatar' }).click()
    await form.getByRole('status').filter({ hasText: 'Avatar saved.' }).waitFor()
    const loaded = await form.locator('.avatar-preview img.avatar-img').evaluate((img) =>
      img.complete ? img.naturalWidth : new Promise((resolve) => { img.onload = () => resolve(img.naturalWidth) }))
    check(loaded === 24, `the preview shows the uploaded image (width ${loaded})`)
    await page.getByLabel('Status').fill('Mapping the coastline')
    await page.getByRole('button', { name: 'Save profile' }).click()
    await page.getByRole('status').filter({ hasText: 'Profile saved.' }).waitFor()
    await shot(page, 'avatar')
  })
  await step('eli sees her avatar on her message', async () => {
    await dora.page.getByRole('link', { name: 'Chat' }).click()
    await dora.page.getByRole('button', { name: '+ Room' }).click()
    await dora.page.getByLabel('Name').fill('lobby')
    await dora.page.getByRole('button', { name: 'Create room' }).click()
    await dora.page.getByRole('heading', { name: 'lobby' }).waitFor()
    await say(dora.page, 'hello with a face')
    await dora.page.locator('.room .msg', { hasText: 'hello with a face' }).locator('.avatar img.avatar-img').waitFor()
    await eli.page.getByRole('button', { name: 'Browse' }).click()
    await eli.page.getByRole('button', { name: 'join lobby' }).click()
    const image = eli.page.locator('.room .msg', { hasText: 'hello with a face' }).locator('.avatar img.avatar-img')
    const width = await image.evaluate((img) =>
      img.complete ? img.naturalWidth : new Promise((resolve) => { img.onload = () => resolve(img.naturalWidth) }))
    check(width === 24, `eli's browser loaded dora's avatar (width ${width})`)
    await eli.page.locator('.room-link', { hasText: 'lobby' }).getByText('Dora: hello with a face').waitFor() // the history's preview
  })
  await step("eli opens dora's card from her name: avatar, status, and a direct message from there", async () => {
    const page = eli.page
    await page.locator('.room .msg', { hasText: 'hello with a face' }).getByRole('button', { name: 'Dora' }).click()
    const card = page.getByRole('dialog', { name: 'Dora' })
    await card.getByText('Mapping the coastline').waitFor()
    await card.getByText('@dora').waitFor()
    await card.getByText('Online').waitFor()
    check(await card.locator('.avatar.large img.avatar-img').count() === 1, 'the card shows her avatar')
    await shot(page, 'profile')
    await card.getByRole('button', { name: 'Send a direct message' }).click()
    await page.getByRole('heading', { name: 'Dora' }).waitFor()
    await say(page, 'nice avatar')
    await dora.page.getByRole('link', { name: /Eli/ }).first().waitFor() // the DM shows up in her room list
  })
  await step('dora forgets her password and asks for a reset link', async () => {
    const page = dora.page
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('link', { name: 'Forgot your password?' }).click()
    await page.getByLabel('Email').fill('dora@example.com')
    await page.getByRole('button', { name: 'Send reset link' }).click()
    await page.getByRole('status').filter({ hasText: 'If an account has dora@example.com, a link is on its way' }).waitFor()
    await shot(page, 'forgot')
  })
  await step('the e-mailed link sets a new password and signs her out everywhere', async () => {
    const { link } = await nthMail(base, spool, 'dora@example.com', 3, 'reset')
    const page = dora.page
    await page.goto(link)
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor()
    check(!(await page.getByLabel('Code from the e-mail', { exact: true }).isVisible()), 'the code came with the link')
    check(page.url().endsWith('#/reset'), `no code in the address bar: ${page.url()}`)
    await shot(page, 'reset')
    await page.getByLabel('New password', { exact: true }).fill('second password here')
    await page.getByRole('button', { name: 'Set new password' }).click()
    await page.getByRole('status').filter({ hasText: 'Your password is changed' }).waitFor()
    await shot(page, 'reset-done')
  })
  await step('the old password is refused, the new one signs in, the used link does not work again', async () => {
    const page = dora.page
    await signIn(page, 'dora', 'first password here')
    await page.getByRole('alert').filter({ hasText: /./ }).waitFor()
    await signIn(page, 'dora@example.com', 'second password here')
    await page.getByRole('heading', { name: 'Pick a room' }).waitFor()
    const { link } = await nthMail(base, spool, 'dora@example.com', 3, 'reset')
    await page.goto(link)
    await page.getByLabel('New password', { exact: true }).fill('third password here')
    await page.getByRole('button', { name: 'Set new password' }).click()
    await page.locator('.field-error', { hasText: /invalid, expired or already used/ }).waitFor()
    check(await page.getByLabel('Code from the e-mail', { exact: true }).isVisible(), 'a refused code is shown to correct')
  })
})
