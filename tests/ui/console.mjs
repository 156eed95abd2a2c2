// The web console in a real browser: Debian's Chromium, headless, driven
// by playwright-core. Run by tests/it/console_browser.rs, which starts
// toolgate and its upstream and passes, in the environment: TOOLGATE_URL,
// APPROVER_KEY, AGENT_KEY, ACTION_ID (an action whose arguments hold
// markup), FORGED_ID (an action a forged post tries to deny), CHROMIUM.
// Exits non-zero, with the reason, on the first check that fails.
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env('TOOLGATE_URL');
const check = (ok, what) => {
  if (!ok) throw new Error(`failed: ${what}`);
};

const browser = await chromium.launch({
  executablePath: env('CHROMIUM'),
  headless: true,
  args: ['--no-sandbox'],
});
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
  await page.evaluate(() => {
    const f = document.querySelector('form[action$="/deny"]');
    f.querySelector('input[name=csrf]').remove();
    f.querySelector('textarea').value = 'no token';
    f.submit();
  });
  await page.waitForLoadState();
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
  await page.click('button.approve');
  await page.waitForLoadState();
  check(new URL(page.url()).pathname === `/ui/actions/${id}`, `back on the action (${page.url()})`);
  check((await page.textContent('h1')).includes('succeeded'), 'the action ran');

  // Sign out ends the session.
  await page.click('button.link');
  await page.waitForLoadState();
  check(new URL(page.url()).pathname === '/ui/login', 'signed out');
  await page.goto(`${base}/ui/`);
  check(new URL(page.url()).pathname === '/ui/login', 'signed out stays out');

  check(problems.length === 0, `no policy violations, scripts or dialogs: ${problems.join('; ')}`);
  console.log('ok');
} finally {
  await browser.close();
}
