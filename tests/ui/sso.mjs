// Single sign-on to the web console in a real browser: Debian's Chromium,
// headless, driven by playwright-core. Run by tests/it/console_browser.rs,
// which starts toolgate (with ui.oidc) and the repository's OAuth2 server
// and passes, in the environment: TOOLGATE_URL, NAME (the approver the
// provider's ID token names), CHROMIUM. The browser follows every
// redirect itself: the start, the provider's authorize endpoint, the
// callback and its page's same-site refresh to the queue.
// Exits non-zero, with the reason, on the first check that fails.
import { check, env, launch } from './browser.mjs';

const base = env('TOOLGATE_URL');

const browser = await launch();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => /Content Security Policy|Refused to/.test(m.text()) && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(`a script ran: ${e.message}`));

  await page.goto(`${base}/ui/login`);
  await page.click('text=Sign in with SSO');
  await page.waitForURL(`${base}/ui/`, { timeout: 15000 });
  check((await page.textContent('header')).includes(env('NAME')), `signed in as ${env('NAME')}`);

  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'toolgate_session');
  check(session && session.httpOnly && session.sameSite === 'Strict' && session.path === '/ui', 'session cookie attributes');
  check(!cookies.some((c) => c.name === 'toolgate_sso'), 'the sign-in cookie is gone');

  // Signing out ends it; the login page offers SSO again.
  await page.click('button.link');
  await page.waitForLoadState();
  check(new URL(page.url()).pathname === '/ui/login', 'signed out');
  check((await page.locator('a[href="/ui/oidc/start"]').count()) === 1, 'SSO offered again');

  check(problems.length === 0, `no policy violations or scripts: ${problems.join('; ')}`);
  console.log('ok');
} finally {
  await browser.close();
}
