// The web UI end to end in headless Chromium: three users in three browser contexts against a real server.
// Usage: node tests/browser/ui.mjs <base_url> <output_dir>. Exit status 0 when every step passed.
import { runScenario, openUser, signUp, step, check, screenshots, say, editorText, eventually } from './lib.mjs'

await runScenario('ui.mjs', [], async ({ base, outDir, browser, users }) => {
  const shot = screenshots(outDir)
  const ana = await openUser(browser, base, 'ana')
  const ben = await openUser(browser, base, 'ben')
  const cara = await openUser(browser, base, 'cara')
  users.push(ana, ben, cara)

  // Ben's chat socket goes through a relay the test can cut, to drop his connection on purpose.
  const relay = { open: new Set(), blocked: false }
  await ben.page.routeWebSocket(/\/ws\?token=/, (ws) => {
    if (relay.blocked) return ws.close({ code: 4000, reason: 'test: network down' })
    relay.open.add(ws)
    ws.connectToServer()
  })

  await step('sign-in screen', async () => {
    await ana.page.goto(base)
    await ana.page.getByRole('button', { name: 'Sign in' }).waitFor()
    await shot(ana.page, 'login')
  })
  await step('wrong password is refused with a message', async () => {
    await ana.page.getByLabel('Username or email').fill('nobody')
    await ana.page.getByLabel('Password').fill('wrong password')
    await ana.page.getByRole('button', { name: 'Sign in' }).click()
    await ana.page.getByRole('alert').filter({ hasText: /./ }).waitFor()
  })
  await step('three users sign up', async () => {
    await Promise.all([signUp(ana, base), signUp(ben, base), signUp(cara, base)])
  })

  await step('ana creates a room and sends a message with Enter', async () => {
    await ana.page.getByRole('button', { name: '+ Room' }).click()
    await ana.page.getByLabel('Name').fill('general')
    await ana.page.getByLabel('Description (optional)').fill('Everything and nothing')
    await ana.page.getByRole('button', { name: 'Create room' }).click()
    await ana.page.getByRole('heading', { name: 'general' }).waitFor()
    await say(ana.page, 'hello from ana')
  })
  await step('ben joins from the public room list and sees the history', async () => {
    await ben.page.getByRole('button', { name: 'Browse' }).click()
    await ben.page.getByRole('button', { name: 'join general' }).click()
    await ben.page.locator('.room .msg-text', { hasText: 'hello from ana' }).waitFor()
  })
  await step("ben's message shows up live in ana's window", async () => {
    await say(ben.page, 'hi ana, ben here')
    await ana.page.locator('.room .msg-text', { hasText: 'hi ana, ben here' }).waitFor()
    for (const [page, author] of [[ana.page, 'hi ana, ben here'], [ana.page, 'hello from ana']]) {
      await page.locator('.room .msg', { hasText: author }).locator('.avatar .dot.online').waitFor() // presence dots
    }
  })
  await step('typing indicator', async () => {
    await ben.page.locator('.room .compose-input').pressSequentially('typing something')
    await ana.page.locator('.typing', { hasText: 'Ben is typing…' }).waitFor()
    await ben.page.locator('.room .compose-input').fill('')
  })
  await step('reaction from ana reaches ben', async () => {
    const message = ana.page.locator('.room .msg', { hasText: 'hi ana, ben here' })
    await message.hover()
    await message.getByRole('button', { name: 'add reaction' }).click()
    await message.getByRole('button', { name: 'react 👍' }).click()
    await ben.page.locator('.room .msg', { hasText: 'hi ana, ben here' }).getByRole('button', { name: /👍 1/ }).waitFor()
  })
  await step('thread reply', async () => {
    const root = ben.page.locator('.room .msg', { hasText: 'hello from ana' })
    await root.hover()
    await root.getByRole('button', { name: 'reply in thread' }).click()
    await ben.page.getByRole('heading', { name: 'Thread' }).waitFor()
    const box = ben.page.locator('.thread .compose-input')
    await box.fill('a reply in the thread')
    await box.press('Enter')
    await ben.page.locator('.thread .msg-text', { hasText: 'a reply in the thread' }).waitFor()
    await ana.page.locator('.room .msg', { hasText: 'hello from ana' }).getByRole('button', { name: '1 reply' }).waitFor()
    check(await ana.page.locator('.room .msg-text', { hasText: 'a reply in the thread' }).count() === 0,
      'thread replies stay out of the main list')
  })
  await step('edit and delete', async () => {
    await say(ana.page, 'a typo hree')
    const typo = ana.page.locator('.room .msg', { hasText: 'a typo hree' })
    await typo.hover()
    await typo.getByRole('button', { name: 'edit message' }).click()
    const editBox = ana.page.getByRole('textbox', { name: 'edit message' })
    await editBox.fill('a typo here')
    await editBox.press('Enter')
    await ben.page.locator('.room .msg', { hasText: 'a typo here' }).locator('.edited').waitFor()
    ana.page.once('dialog', (dialog) => dialog.accept())
    const fixed = ana.page.locator('.room .msg', { hasText: 'a typo here' })
    await fixed.hover()
    await fixed.getByRole('button', { name: 'delete message' }).click()
    await ben.page.locator('.room .msg-text.deleted').waitFor()
  })
  await step('file upload with an image preview', async () => {
    const png = await ana.page.evaluate(() => {
      const canvas = Object.assign(document.createElement('canvas'), { width: 120, height: 80 })
      const g = canvas.getContext('2d')
      g.fillStyle = '#2b59c3'; g.fillRect(0, 0, 120, 80); g.fillStyle = '#fff'; g.fillRect(20, 20, 80, 40)
      return canvas.toDataURL('image/png').split(',')[1]
    })
    await ana.page.locator('.room input[type=file]').setInputFiles(
      { name: 'diagram.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') })
    await ana.page.locator('.room .chip', { hasText: 'diagram.png' }).waitFor()
    await ana.page.locator('.room .compose-input').press('Enter')
    const image = ben.page.locator('.room .msg img.thumb[alt="diagram.png"]')
    await image.waitFor()
    await eventually(() => image.evaluate((img) => img.complete && img.naturalWidth > 0), 'the preview loads')
  })
  await step('a dropped socket reconnects by itself and fills the gap', async () => {
    relay.blocked = true
    for (const ws of relay.open) await ws.close({ code: 4000, reason: 'test: network down' })
    relay.open.clear()
    await ben.page.locator('.topbar .link-state', { hasText: 'Reconnecting…' }).waitFor()
    await say(ana.page, 'sent while ben was away')
    relay.blocked = false
    await ben.page.locator('.topbar .link-state', { hasText: 'Online' }).waitFor({ timeout: 20_000 })
    await ben.page.locator('.room .msg-text', { hasText: 'sent while ben was away' }).waitFor()
    check(await ben.page.locator('.room .msg-text', { hasText: 'sent while ben was away' }).count() === 1,
      'the replayed message shows once')
    await shot(ana.page, 'chat')
  })
  await step("a bot's message carries a bot badge", async () => {
    await ana.page.evaluate(async () => { // ana makes a bot, adds it to the room, and it posts over REST
      const { access } = JSON.parse(localStorage.getItem('confab.session'))
      const roomId = location.hash.split('/')[2]
      const call = async (path, body, token = access) => {
        const r = await fetch(`/api/v1${path}`, { method: 'POST', body: JSON.stringify(body),
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } })
        if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`)
        return r.json()
      }
      const { bot, api_key: key } = await call('/bots', { name: 'helper', display_name: 'Helper' })
      await call(`/rooms/${roomId}/members`, { user_id: bot.id })
      await call(`/rooms/${roomId}/messages`, { content: 'beep from the bot' }, key.key)
    })
    const botMessage = ben.page.locator('.room .msg', { hasText: 'beep from the bot' })
    await botMessage.locator('.bot-badge', { hasText: 'bot' }).waitFor()
    check(await ben.page.locator('.room .msg', { hasText: 'hi ana, ben here' }).locator('.bot-badge').count() === 0,
      'people carry no bot badge')
  })
  await step('older history loads when the message list is scrolled to the top', async () => {
    const roomId = await ana.page.evaluate(() => location.hash.split('/')[2])
    const n = 110 // more than two pages of 50
    const acked = await ana.page.evaluate(async ({ roomId, n }) => { // a bot burst on a raw socket of ana's
      const { access } = JSON.parse(localStorage.getItem('confab.session'))
      const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws?token=${access}`)
      await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject })
      let count = 0
      const done = new Promise((resolve) => {
        ws.onmessage = (e) => { const f = JSON.parse(e.data); if (f.type === 'ack' && ++count === n) resolve() }
      })
      for (let i = 1; i <= n; i++) {
        ws.send(JSON.stringify({ type: 'send_message', ref: `bulk${i}`, room_id: roomId,
          content: `bulk message ${i}`, client_msg_id: `bulk-${i}` }))
      }
      await done
      ws.close()
      return count
    }, { roomId, n })
    check(acked === n, `every bulk message acknowledged (${acked})`)
    await ben.page.reload()
    const log = ben.page.locator('.room .scroller')
    await ben.page.locator('.room .msg-text', { hasText: `bulk message ${n}` }).waitFor()
    const first = ben.page.locator('.room .msg-text', { hasText: /^bulk message 1$/ })
    check(await first.count() === 0, 'the oldest page is not loaded before scrolling')
    await eventually(async () => {
      await log.evaluate((el) => { el.scrollTop = 0 })
      return (await first.count()) === 1
    }, 'scrolling up loads older pages down to the first message')
  })
  await step('direct message with unread badge and preview', async () => {
    await ben.page.getByRole('button', { name: '+ DM' }).click()
    await ben.page.getByLabel('Find a person').fill('ana')
    await ben.page.getByRole('button', { name: 'message ana' }).click()
    await ben.page.getByRole('heading', { name: 'Ana' }).waitFor()
    await say(ben.page, 'psst, a private word')
    const dm = ana.page.locator('.room-link').filter({ has: ana.page.locator('.room-name', { hasText: /^Ben$/ }) })
    await dm.waitFor({ timeout: 40_000 }) // by notification, or the room-list refresh without one
    await dm.locator('.badge', { hasText: '1' }).waitFor()
    await dm.locator('.preview', { hasText: 'Ben: psst, a private word' }).waitFor()
    await say(ben.page, 'and another one')
    await dm.locator('.badge', { hasText: '2' }).waitFor()
    await dm.click()
    await ana.page.locator('.room .msg-text', { hasText: 'and another one' }).waitFor()
    await eventually(async () => (await dm.locator('.badge').count()) === 0, 'opening the DM clears its badge')
  })
  await step('a mention lights the notifications badge; opening it marks it read', async () => {
    const bell = ana.page.locator('.topbar button.bell')
    const unread = async () => Number((await bell.getAttribute('aria-label')).match(/(\d+) unread/)[1])
    const before = await unread()
    await ben.page.locator('.room-link', { hasText: 'general' }).click()
    await ben.page.getByRole('heading', { name: 'general' }).waitFor()
    await say(ben.page, `@${ana.username} can you look at the plan?`)
    await eventually(async () => (await unread()) === before + 1, 'the live notification raises the count')
    await bell.click()
    const item = ana.page.locator('.notification-list li.unread', { hasText: 'mentioned you' })
    await item.locator('.preview', { hasText: 'can you look at the plan?' }).waitFor()
    await item.getByRole('button').click()
    await eventually(async () => (await unread()) === before, 'opening it marks it read')
    await ana.page.getByRole('heading', { name: 'general' }).waitFor()
  })
  await step('message search: a hit opens its message; other rooms and markup stay out', async () => {
    await say(ben.page, 'the <b>quokka</b> & co') // in general, shared with ana; markup must stay text
    await ben.page.getByRole('button', { name: '+ Room' }).click()
    await ben.page.getByLabel('Name').fill('ben-notes')
    await ben.page.getByRole('button', { name: 'Create room' }).click()
    await ben.page.getByRole('heading', { name: 'ben-notes' }).waitFor()
    await say(ben.page, 'zanzibar is only said here')

    const box = ana.page.getByRole('searchbox', { name: 'Search messages' })
    const results = ana.page.getByRole('list', { name: 'search results' })
    const status = ana.page.locator('.search-status')
    await box.fill('quokka')
    await box.press('Enter')
    const hit = results.getByRole('link').filter({ hasText: 'quokka' })
    await hit.waitFor()
    check(await results.getByRole('link').count() === 1, 'one hit for quokka')
    check((await hit.locator('.hit-text').textContent()) === 'Ben: the <b>quokka</b> & co', 'the snippet shows the text as typed')
    check(await hit.locator('mark').allTextContents().then((t) => t.join('|')) === 'quokka', 'the match is marked')
    check(await hit.locator('.hit-text *').count() === 2, 'no markup but <strong> and <mark> in the snippet')
    await shot(ana.page, 'search')
    await hit.click()
    await ana.page.getByRole('heading', { name: 'general' }).waitFor()
    await eventually(() => ana.page.evaluate(() => document.activeElement.closest('.msg.target')?.textContent.includes('quokka')),
      'the hit opens its room with the message focused')

    await box.fill('zanzibar')
    await box.press('Enter')
    await status.filter({ hasText: 'No messages match “zanzibar”' }).waitFor()
    check(await results.getByRole('link').count() === 0, "a room ana is not in is not searched")

    await box.fill('bulk message')
    await box.press('Enter')
    await status.filter({ hasText: '20+ messages found' }).waitFor()
    await ana.page.getByRole('button', { name: 'More results' }).click()
    await status.filter({ hasText: '40+ messages found' }).waitFor()
    await box.fill('psst') // said in the DM
    await ana.page.getByLabel('Only in # general').check()
    await status.filter({ hasText: 'No messages match “psst”' }).waitFor()
    await ana.page.getByLabel('Only in # general').uncheck()
    await results.getByRole('link').filter({ hasText: 'psst, a private word' }).locator('.hit-room', { hasText: 'Ben' }).waitFor()
    await ana.page.getByRole('button', { name: 'clear search' }).click()
    await ana.page.getByRole('list', { name: 'your rooms' }).waitFor()
    check(!(await results.isVisible()), 'the results give way to the room list')
  })
  await step('private room: ana invites cara by username; ben cannot see it', async () => {
    await ana.page.getByRole('button', { name: '+ Room' }).click()
    await ana.page.getByLabel('Name').fill('secret-plans')
    await ana.page.getByLabel('Private (members join by invitation)').check()
    await ana.page.getByRole('button', { name: 'Create room' }).click()
    await ana.page.getByRole('heading', { name: 'secret-plans' }).waitFor()
    await ana.page.locator('.room-header .role', { hasText: 'Private' }).waitFor()
    await ana.page.getByRole('button', { name: 'Members' }).click()
    const dialog = ana.page.getByRole('dialog')
    await dialog.getByLabel('Username').fill('nobody-here')
    await dialog.getByRole('button', { name: 'Invite' }).click()
    await dialog.getByRole('alert').filter({ hasText: 'user not found' }).waitFor()
    await dialog.getByLabel('Username').fill('cara')
    await dialog.getByRole('button', { name: 'Invite' }).click()
    await dialog.getByRole('status').filter({ hasText: 'Cara is now a member.' }).waitFor()
    const members = dialog.getByRole('list', { name: 'members' })
    await members.getByRole('listitem').filter({ hasText: '@cara' }).waitFor()
    check(await members.getByRole('listitem').count() === 2, 'ana and cara are the members')
    await shot(ana.page, 'members')
    await dialog.getByRole('button', { name: 'close' }).click()

    await ben.page.getByRole('button', { name: 'Browse' }).click()
    const browse = ben.page.getByRole('list', { name: 'public rooms' })
    await browse.getByText('# general').waitFor()
    check(await browse.getByText('secret-plans').count() === 0, 'a private room is not listed in Browse')
    await ben.page.getByRole('dialog').getByRole('button', { name: 'close' }).click()

    // every socket of an invited user is told at once: well before the room list's 30 s refresh
    const room = cara.page.getByRole('link', { name: 'secret-plans, private' })
    await room.waitFor({ timeout: 5_000 })
    await room.click()
    await cara.page.getByRole('heading', { name: 'secret-plans' }).waitFor()
    await cara.page.getByRole('button', { name: 'Members' }).click()
    await cara.page.getByRole('dialog').getByRole('listitem').filter({ hasText: '@ana' }).waitFor()
    check(await cara.page.getByRole('dialog').getByRole('button', { name: 'Invite' }).count() === 0,
      'a plain member of a private room gets no invite form')
    await cara.page.getByRole('dialog').getByRole('button', { name: 'close' }).click()
    await say(cara.page, 'cara made it in')
    await ana.page.locator('.room .msg-text', { hasText: 'cara made it in' }).waitFor()
  })
  await step('narrow window: the room list collapses behind a button', async () => {
    await ben.page.setViewportSize({ width: 360, height: 740 })
    const sidebar = ben.page.locator('.sidebar')
    await eventually(async () => { const box = await sidebar.boundingBox(); return box.x + box.width <= 0 },
      'the room list is off screen')
    await shot(ben.page, 'chat-narrow')
    await ben.page.getByRole('button', { name: 'show rooms' }).click()
    await eventually(async () => (await sidebar.boundingBox()).x >= 0, 'the room list slides in')
    await ben.page.locator('.room-link', { hasText: 'general' }).click()
    await ben.page.getByRole('heading', { name: 'general' }).waitFor()
    await ben.page.setViewportSize({ width: 1280, height: 800 })
  })

  let docUrl
  await step('ana creates a document and shares it (editor ben, viewer cara)', async () => {
    await ana.page.getByRole('link', { name: 'Documents' }).click()
    await ana.page.getByLabel('New document title').fill('Launch plan')
    await ana.page.getByRole('button', { name: 'Create' }).click()
    await ana.page.getByRole('heading', { name: 'Launch plan' }).waitFor()
    docUrl = ana.page.url()
    await ana.page.getByRole('button', { name: 'Share' }).click()
    const dialog = ana.page.getByRole('dialog')
    for (const [name, role] of [['ben', 'editor'], ['cara', 'viewer']]) {
      await dialog.getByLabel('Username').fill(name)
      await dialog.getByLabel('Role', { exact: true }).selectOption(role)
      await dialog.getByRole('button', { name: 'Share', exact: true }).click()
      await dialog.getByRole('combobox', { name: `role of ${name}` }).waitFor()
    }
    await dialog.getByLabel('Username').fill('nobody-here')
    await dialog.getByRole('button', { name: 'Share', exact: true }).click()
    await dialog.getByRole('alert').filter({ hasText: /./ }).waitFor()
    await dialog.getByRole('button', { name: 'close' }).click()
  })
  await step('two editors type into the same document and end with the same text', async () => {
    await ben.page.getByRole('link', { name: 'Documents' }).click()
    await ben.page.getByRole('link', { name: /Launch plan/ }).click()
    await Promise.all([ana.page, ben.page].map((p) => p.locator('.doc-editor .link-state', { hasText: 'Saved live' }).waitFor()))
    await ana.page.locator('.cm-content').click()
    await ben.page.locator('.cm-content').click()
    await Promise.all([
      ana.page.keyboard.type('Ana writes the intro. ', { delay: 15 }),
      ben.page.keyboard.type('Ben adds a line. ', { delay: 15 })])
    const texts = await eventually(async () => {
      const [a, b] = [await editorText(ana.page), await editorText(ben.page)]
      return a === b && a.includes('Ana writes the intro. ') && a.includes('Ben adds a line. ') && a
    }, 'both editors converge')
    const stored = await ana.page.evaluate(async (url) => {
      const token = JSON.parse(localStorage.getItem('confab.session')).access
      const id = url.split('/').pop()
      const r = await fetch(`/api/v1/documents/${id}`, { headers: { Authorization: `Bearer ${token}` } })
      return (await r.json()).content
    }, docUrl)
    await eventually(async () => stored === texts, `the server holds the same text (${JSON.stringify(stored)})`)
    await ana.page.locator('.people li', { hasText: 'Ben' }).waitFor()
    await ana.page.locator('.cm-ySelectionInfo', { hasText: 'Ben' }).waitFor({ state: 'attached' })
    await shot(ana.page, 'document')
  })
  await step("a viewer's editor refuses typing", async () => {
    await cara.page.goto(docUrl)
    await cara.page.getByText('You are a viewer').waitFor()
    const before = await eventually(async () => (await editorText(cara.page)).includes('Ben adds a line.') && editorText(cara.page),
      'the viewer sees the text')
    check(await cara.page.locator('.cm-content').getAttribute('contenteditable') === 'false', 'not editable')
    await cara.page.locator('.cm-content').click()
    await cara.page.keyboard.type('viewer was here')
    await new Promise((resolve) => setTimeout(resolve, 500))
    check(await editorText(cara.page) === before, 'the viewer typed into the document')
    check(!(await editorText(ana.page)).includes('viewer was here'), "the viewer's text reached the owner")
    await shot(cara.page, 'document-viewer')
  })
  await step("a hostile awareness colour never reaches a style", async () => {
    // cara's page joins the document over a raw /yjs socket and announces a state whose colour is CSS
    await cara.page.evaluate(async (url) => {
      const token = JSON.parse(localStorage.getItem('confab.session')).access
      const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/yjs/${url.split('/').pop()}?token=${token}`)
      await new Promise((resolve) => ws.addEventListener('open', resolve))
      const varUint = (n) => { const out = []; while (n > 127) { out.push((n % 128) | 128); n = Math.floor(n / 128) } out.push(n); return out }
      const bytes = (text) => { const b = [...new TextEncoder().encode(text)]; return [...varUint(b.length), ...b] }
      const state = JSON.stringify({ user: { name: 'Mallory', color: 'red; background-image: url(/evil-color)', colorLight: 'x' } })
      const update = [...varUint(1), ...varUint(424242), ...varUint(1), ...bytes(state)]
      ws.send(new Uint8Array([...varUint(1), ...varUint(update.length), ...update]))
      window.mallory = ws
    }, docUrl)
    await ana.page.locator('.people li', { hasText: 'Mallory' }).waitFor()
    const styled = await ana.page.evaluate(() => [...document.querySelectorAll('[style]')]
      .map((node) => node.getAttribute('style')).filter((style) => /evil|url\(|;\s*background/.test(style)))
    check(styled.length === 0, `a remote colour reached a style: ${styled.join(' | ')}`)
  })
  await step('history shows the content at a chosen version', async () => {
    await ana.page.getByRole('link', { name: 'History' }).click()
    const versions = ana.page.locator('.version')
    await versions.first().waitFor()
    check(await versions.count() > 2, 'several versions listed')
    await versions.last().click()
    const first = await ana.page.locator('.version-text').textContent()
    await versions.first().click()
    await ana.page.locator('.version-text', { hasText: 'Ana writes the intro.' }).waitFor()
    check(first.length < (await ana.page.locator('.version-text').textContent()).length, 'older version is shorter')
    await shot(ana.page, 'history')
    await ana.page.getByRole('link', { name: 'Documents' }).click()
    await ana.page.getByRole('link', { name: /Launch plan/ }).waitFor()
    await shot(ana.page, 'documents')
  })
  await step('tokens are refreshed quietly before they expire', async () => {
    const read = () => ben.page.evaluate(() => JSON.parse(localStorage.getItem('confab.session')))
    const before = await read()
    const waitMs = Math.max(0, before.expiresAt - 60_000 - Date.now()) + 5000
    check(waitMs < 60_000, `the server's access token lifetime is too long for this check (${waitMs} ms)`)
    const after = await eventually(async () => { const s = await read(); return s && s.access !== before.access && s },
      'the access token was renewed', waitMs + 5000)
    check(after.refresh !== before.refresh, 'the refresh token rotated')
    for (const page of [ana.page, ben.page]) {
      await page.getByRole('link', { name: 'Chat' }).click()
      await page.getByRole('link', { name: 'general' }).click()
    }
    await say(ben.page, 'still signed in after the refresh')
    await ana.page.locator('.room .msg-text', { hasText: 'still signed in after the refresh' }).waitFor()
  })
  await step('settings: profile, wrong and right password change, export', async () => {
    const page = ana.page
    await page.getByRole('link', { name: 'Settings' }).click()
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor()
    await page.getByLabel('Status').fill('writing the launch plan')
    await page.getByLabel(/digest/).uncheck()
    await page.getByRole('button', { name: 'Save profile' }).click()
    await page.getByRole('status').filter({ hasText: 'Profile saved.' }).waitFor()
    const me = await page.evaluate(async () => {
      const { access, user } = JSON.parse(localStorage.getItem('confab.session'))
      const response = await fetch(`/api/v1/users/${user.id}`, { headers: { Authorization: `Bearer ${access}` } })
      return response.json()
    })
    check(me.status_text === 'writing the launch plan', `status text saved: ${JSON.stringify(me)}`)
    const password = page.getByRole('form', { name: 'change password' })
    await password.getByLabel('Current password').fill('not my password')
    await password.getByLabel('New password').fill('a brand new passphrase')
    await password.getByRole('button', { name: 'Change password' }).click()
    const refused = password.locator('.field-error, .form-error').filter({ hasText: /./ })
    await refused.first().waitFor()
    await password.getByLabel('Current password').fill('correct horse battery')
    await password.getByRole('button', { name: 'Change password' }).click()
    await password.getByRole('status').filter({ hasText: 'Password changed' }).waitFor()
    const [download] = await Promise.all([page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export my data' }).click()])
    check(download.suggestedFilename() === 'confab-export-ana.json', download.suggestedFilename())
    const exported = JSON.parse(await (await download.createReadStream()).toArray().then((c) => Buffer.concat(c).toString()))
    check(exported.user.username === 'ana' && Array.isArray(exported.messages), 'the export is the JSON of the API')
    await shot(page, 'settings')
  })
  await step('admin: a server admin finds, suspends, reactivates, promotes and demotes a user and reads the audit log', async () => {
    const sessions = await Promise.all(users.map((u) => u.page.evaluate(() => JSON.parse(localStorage.getItem('confab.session')))))
    const admin = users[sessions.findIndex((s) => s && s.user.is_server_admin)]
    check(admin, 'one of the first users is the server admin')
    for (const u of users) {
      const link = await u.page.getByRole('link', { name: 'Admin' }).count()
      check(link === (u === admin ? 1 : 0), `only the admin sees the Admin link (${u.username}: ${link})`)
    }
    const page = admin.page
    const api = (path, body) => page.evaluate(async ([path, body]) => {
      const response = await fetch(`/api/v1${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body) })
      return response.status
    }, [path, body])
    const dora = { username: 'dora', email: 'dora@example.com', password: 'correct horse battery' }
    check(await api('/auth/register', dora) === 201, 'dora registers over the API')
    await page.getByRole('link', { name: 'Admin' }).click()
    await page.getByRole('heading', { name: 'Administration' }).waitFor()
    await page.getByLabel('Find users (name or e-mail)').fill('dora')
    await page.getByRole('button', { name: 'Search' }).click()
    const row = page.getByRole('table', { name: 'users' }).locator('tr[data-username="dora"]')
    await row.getByText('active').waitFor()
    check(await page.getByRole('table', { name: 'users' }).locator('tbody tr').count() === 1, 'the search finds dora only')
    await row.getByRole('button', { name: 'suspend dora' }).click()
    await row.getByText(/^suspended/).waitFor()
    const login = { username: 'dora', password: dora.password }
    check(await api('/auth/login', login) === 403, 'a suspended user cannot sign in')
    await row.getByRole('button', { name: 'reactivate dora' }).click()
    await row.getByText('active').waitFor()
    check(await api('/auth/login', login) === 200, 'dora signs in again once reactivated')
    const doraAdministers = () => page.evaluate(async (login) => { // dora's own token, not the admin's session
      const signedIn = await fetch('/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(login) }).then((r) => r.json())
      return (await fetch('/api/v1/admin/users', { headers: { Authorization: `Bearer ${signedIn.access_token}` } })).status
    }, login)
    check(await doraAdministers() === 403, 'dora is no server admin yet')
    await row.getByRole('button', { name: 'make dora a server admin' }).click()
    await row.getByRole('cell', { name: 'server admin', exact: true }).waitFor()
    check(await doraAdministers() === 200, 'dora administers once made a server admin')
    await row.getByRole('button', { name: 'revoke server admin from dora' }).click()
    await row.getByRole('cell', { name: 'user', exact: true }).waitFor()
    check(await doraAdministers() === 403, 'and no longer once revoked')
    const audit = page.getByRole('table', { name: 'audit log' })
    await audit.locator('tbody tr').first().waitFor()
    await page.getByLabel('Only this action (optional)').fill('user.suspended')
    await page.getByRole('button', { name: 'Show' }).click()
    await audit.locator('tbody tr', { hasText: 'user.suspended' }).waitFor()
    check(await audit.locator('tbody tr').count() === 1, 'the filter keeps the one suspension')
    await page.getByLabel('Only this action (optional)').fill('admin.revoked')
    await page.getByRole('button', { name: 'Show' }).click()
    await audit.locator('tbody tr', { hasText: 'admin.revoked' }).waitFor()
    check(await audit.locator('tbody tr').count() === 1, 'the filter keeps the one revocation')
    await page.getByLabel('Only this action (optional)').fill('')
    await page.getByRole('button', { name: 'Show' }).click()
    await audit.locator('tbody tr', { hasText: 'user.reactivated' }).waitFor()
    await shot(page, 'admin')
  })
  await step('the only admin cannot delete their account; a user who is not the admin does (wrong password first)', async () => {
    const roles = await Promise.all([ana, ben, cara].map(async (u) => [u, await u.page.evaluate(() =>
      JSON.parse(localStorage.getItem('confab.session')).user.is_server_admin)]))
    const admin = roles.find(([, isAdmin]) => isAdmin)[0]
    await admin.page.getByRole('link', { name: 'Settings' }).click()
    const refused = admin.page.getByRole('form', { name: 'delete my account' })
    await refused.getByLabel('Password to confirm').fill(admin === ana ? 'a brand new passphrase' : 'correct horse battery')
    await refused.getByRole('button', { name: 'Delete my account' }).click()
    await refused.getByRole('alert').filter({ hasText: 'make another user admin first' }).waitFor()
    const leaver = roles.find(([u, isAdmin]) => !isAdmin && u !== ana)[0]
    const page = leaver.page
    await page.getByRole('link', { name: 'Settings' }).click()
    const form = page.getByRole('form', { name: 'delete my account' })
    await form.getByLabel('Password to confirm').fill('wrong password')
    await form.getByRole('button', { name: 'Delete my account' }).click()
    await form.locator('.field-error, .form-error').filter({ hasText: /./ }).first().waitFor()
    await form.getByLabel('Password to confirm').fill('correct horse battery')
    await form.getByRole('button', { name: 'Delete my account' }).click()
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    await page.getByLabel('Username or email').fill(leaver.username)
    await page.getByLabel('Password').fill('correct horse battery')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('alert').filter({ hasText: /./ }).waitFor()
  })
  await step('sign out', async () => {
    await ana.page.getByRole('button', { name: 'Sign out' }).click()
    await ana.page.getByRole('button', { name: 'Sign in' }).waitFor()
    check(await ana.page.evaluate(() => localStorage.getItem('confab.session')) === null, 'tokens are gone')
  })
})
