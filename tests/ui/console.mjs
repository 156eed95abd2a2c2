// The web console in a real browser: Debian's Chromium, headless, driven
// by playwright-core. Run by tests/it/console_browser.rs, which starts
// toolgate and its upstream and passes, in the environment: TOOLGATE_URL,
// APPROVER_KEY, SECOND_APPROVER_KEY (another approver of the workflow),
// AGENT_KEY, ACTION_ID (an action whose arguments hold markup), FORGED_ID
// (an action a forged post tries to deny), EDIT_ID (an action whose name
// "Edtied" is edited to "Edited" before approval), TWO_ID (an action that needs
// two approvers), DENY_ID (an action the approver denies), ADMIN_KEY (an
// admin, who disables the credential `crm`), CHROMIUM.
// Exits non-zero, with the reason, on the first check that fails.
import { check, env, launch } from './browser.mjs';

const base = env('TOOLGATE_URL');
// Click what submits a form, and wait for the page it leads to.
const submit = (p, selector) => Promise.all([p.waitForNavigation(), p.click(selector)]);

const browser = await launch();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  // Refused answers (401, 403) are expected below; what the console's own
  // policy blocks, or a script that runs, is not.
  page.on('console', (m) => /Content Security Policy|Refused to/.test(m.text()) && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(`a script ran: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`a dialog opened: ${d.message()}`);
    d.dismiss();
  });

  // An agent key cannot sign in; an approver key can.
  await page.goto(`${base}/ui/login`);
  await page.fill('#key', env('AGENT_KEY'));
  await page.click('button[type=submit]');
  check((await page.textContent('body')).includes('not an approver or admin key'), 'agent key refused');
  await page.fill('#key', env('APPROVER_KEY'));
  await page.click('button[type=submit]');
  check(new URL(page.url()).pathname === '/ui/', `signed in, at ${page.url()}`);

  // The session cookie is HttpOnly and Strict: invisible to scripts.
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'toolgate_session');
  check(session && session.httpOnly && session.sameSite === 'Strict' && session.path === '/ui', 'cookie attributes');
  check(!(await page.evaluate(() => document.cookie)).includes('toolgate_session'), 'cookie hidden from document.cookie');

  // The style sheet loads under the CSP (it is the console's own).
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg === 'rgb(245, 246, 248)', `style sheet applied (${bg})`);

  // The action page: hostile arguments are inert text.
  const id = env('ACTION_ID');
  await page.click(`a[href="/ui/actions/${id}"]`);
  check((await page.locator('img').count()) === 0, 'no element made from the arguments');
  check((await page.textContent('main')).includes('<img src=x onload=1>'), 'the markup shown as text');
  const sha = (await page.textContent('#request-sha256')).trim();
  check(/^[0-9a-f]{64}$/.test(sha), `the request hash shown (${sha})`);

  // A post without the form token is refused.
  await Promise.all([
    page.waitForNavigation(),
    page.evaluate(() => {
      const f = document.querySelector('form[action$="/deny"]');
      f.querySelector('input[name=csrf]').remove();
      f.querySelector('textarea').value = 'no token';
      f.submit();
    }),
  ]);
  check((await page.textContent('body')).includes('Form refused'), 'a post without the token refused');

  // A forged post from another site is refused (the action stays pending).
  await page.route('http://elsewhere.test/**', (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<form method="post" action="${base}/ui/actions/${env('FORGED_ID')}/deny">
        <input name="reason" value="forged"><input name="csrf" value="guess"></form>
        <script>document.forms[0].submit()</script>`,
    }),
  );
  const forged = page.waitForResponse((r) => r.url().includes(`/ui/actions/${env('FORGED_ID')}/deny`));
  await page.goto('http://elsewhere.test/');
  const answer = await forged;
  check([303, 403].includes(answer.status()), `a cross-site post refused (${answer.status()})`);

  // Approve, as a person would.
  await page.goto(`${base}/ui/actions/${id}`);
  await page.fill('#approve-reason', 'checked in the browser');
  await submit(page, 'button.approve');
  check(new URL(page.url()).pathname === `/ui/actions/${id}`, `back on the action (${page.url()})`);
  check((await page.textContent('h1')).includes('succeeded'), 'the action ran');

  // Deny, with a reason: the action ends denied and says by whom and why.
  const denyId = env('DENY_ID');
  await page.goto(`${base}/ui/actions/${denyId}`);
  await page.fill('#deny-reason', 'not this customer');
  await submit(page, 'button.deny');
  check(new URL(page.url()).pathname === `/ui/actions/${denyId}`, `back on the denied action (${page.url()})`);
  check((await page.textContent('h1')).includes('denied'), 'the action was denied');
  check((await page.textContent('main')).includes('not this customer'), 'the denial shown with its reason');

  // Edit the arguments, check the edit, approve what it builds.
  const editId = env('EDIT_ID');
  await page.goto(`${base}/ui/actions/${editId}`);
  const before = (await page.textContent('#request-sha256')).trim();
  await page.click('summary');
  await page.fill('#edit-arguments', '{"name": "Edited", "value_usd": 20000}');
  await submit(page, 'form.edit button[type=submit]');
  check(new URL(page.url()).pathname === `/ui/actions/${editId}/edit`, `on the edit preview (${page.url()})`);
  const diff = await page.textContent('pre.diff');
  check(diff.includes('-   "name": "Edtied"') && diff.includes('+   "name": "Edited"'), `the diff shows the change (${diff})`);
  const after = (await page.textContent('#new-request-sha256')).trim();
  check(/^[0-9a-f]{64}$/.test(after) && after !== before, `a new request hash (${after})`);
  await page.fill('#edit-reason', 'the name was misspelt');
  await submit(page, 'button.approve');
  check(new URL(page.url()).pathname === `/ui/actions/${editId}`, `back on the edited action (${page.url()})`);
  check((await page.textContent('h1')).includes('succeeded'), 'the edited action ran');
  check((await page.textContent('main')).includes('the name was misspelt'), 'the edit recorded with its reason');

  // Two-person approval: a second approver in a context of their own.
  const twoId = env('TWO_ID');
  await page.goto(`${base}/ui/actions/${twoId}`);
  check((await page.textContent('main')).includes('0 of 2'), 'no approval yet');
  await page.fill('#approve-reason', 'first of two');
  await submit(page, 'button.approve');
  let facts = await page.textContent('main');
  check((await page.textContent('h1')).includes('pending_approval'), 'still pending after one approval');
  check(facts.includes('1 of 2') && facts.includes('it waits for another approver'), 'one of two, waiting');
  check((await page.locator('button.approve').count()) === 0, 'no second approval offered to the same approver');
  // The same approver posting again is refused.
  const token = await page.getAttribute('input[name=csrf]', 'value');
  const again = page.waitForResponse((r) => r.url().endsWith(`/ui/actions/${twoId}/approve`));
  await page.evaluate(({ id, token, sha }) => {
    const f = document.createElement('form');
    f.method = 'post';
    f.action = `/ui/actions/${id}/approve`;
    for (const [name, value] of Object.entries({ csrf: token, request_sha256: sha, reason: 'again' })) {
      const i = document.createElement('input');
      i.type = 'hidden';
      i.name = name;
      i.value = value;
      f.appendChild(i);
    }
    document.body.appendChild(f);
    f.submit();
  }, { id: twoId, token, sha: (await page.textContent('#request-sha256')).trim() });
  const twice = await again;
  check(twice.status() === 409, `the same approver cannot approve twice (${twice.status()})`);
  check((await page.textContent('body')).includes('already approved'), 'told why');

  const second = await browser.newContext();
  try {
    const bob = await second.newPage();
    bob.on('pageerror', (e) => problems.push(`a script ran: ${e.message}`));
    await bob.goto(`${base}/ui/login`);
    await bob.fill('#key', env('SECOND_APPROVER_KEY'));
    await bob.click('button[type=submit]');
    check(new URL(bob.url()).pathname === '/ui/', `the second approver signed in (${bob.url()})`);
    check((await bob.textContent(`tr:has(a[href="/ui/actions/${twoId}"])`)).includes('1/2'), 'the queue shows one of two');
    await bob.goto(`${base}/ui/actions/${twoId}`);
    await bob.fill('#approve-reason', 'second of two');
    await submit(bob, 'button.approve');
    check((await bob.textContent('h1')).includes('succeeded'), 'the second approval ran it');
    facts = await bob.textContent('main');
    check(facts.includes('2 of 2') && facts.includes('first of two') && facts.includes('second of two'), 'both approvals listed');
    await submit(bob, 'button.link');
    check(new URL(bob.url()).pathname === '/ui/login', 'the second approver signed out');
  } finally {
    await second.close();
  }

  // An admin disables the credential: the page shows it disabled (the
  // test then finds the next call refused and the upstream not called).
  const ops = await browser.newContext();
  try {
    const admin = await ops.newPage();
    admin.on('pageerror', (e) => problems.push(`a script ran: ${e.message}`));
    await admin.goto(`${base}/ui/login`);
    await admin.fill('#key', env('ADMIN_KEY'));
    await admin.click('button[type=submit]');
    await admin.goto(`${base}/ui/credentials`);
    await admin.fill('#disable-crm', 'suspected leak');
    await submit(admin, 'form[action="/ui/credentials/crm/disable"] button');
    check(new URL(admin.url()).pathname === '/ui/credentials', `back on the credentials (${admin.url()})`);
    check((await admin.locator('form[action="/ui/credentials/crm/enable"]').count()) === 1, 'crm now offers Enable');
    await submit(admin, 'button.link');
    check(new URL(admin.url()).pathname === '/ui/login', 'the admin signed out');
  } finally {
    await ops.close();
  }

  // Sign out ends the session.
  await page.goto(`${base}/ui/`);
  await submit(page, 'button.link');
  check(new URL(page.url()).pathname === '/ui/login', 'signed out');
  await page.goto(`${base}/ui/`);
  check(new URL(page.url()).pathname === '/ui/login', 'signed out stays out');

  check(problems.length === 0, `no policy violations, scripts or dialogs: ${problems.join('; ')}`);
  console.log('ok');
} finally {
  await browser.close();
}
