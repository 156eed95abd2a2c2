// Screenshots of the web console for the README, run by
// docs/screenshots.sh, which starts toolgate and passes, in the
// environment: TOOLGATE_URL, APPROVER_KEY, ADMIN_KEY, ACTION_ID (a held
// action), CHROMIUM, OUT_DIR. Writes queue.png, action.png (a laptop's
// window), action-phone.png (a phone's), and an admin's credentials.png
// and audit.png (after Verify now) there.
import { env, launch } from './browser.mjs';

const base = env('TOOLGATE_URL');
const out = env('OUT_DIR');

const browser = await launch();
try {
  const signIn = async (viewport, key = env('APPROVER_KEY')) => {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(`${base}/ui/login`);
    await page.fill('#key', key);
    await page.click('button[type=submit]');
    await page.waitForURL(`${base}/ui/`);
    return page;
  };
  const laptop = await signIn({ width: 1280, height: 720 });
  await laptop.screenshot({ path: `${out}/queue.png` });
  await laptop.goto(`${base}/ui/actions/${env('ACTION_ID')}`);
  await laptop.screenshot({ path: `${out}/action.png`, fullPage: true });
  const phone = await signIn({ width: 390, height: 844 });
  await phone.goto(`${base}/ui/actions/${env('ACTION_ID')}`);
  await phone.screenshot({ path: `${out}/action-phone.png` });
  const admin = await signIn({ width: 1280, height: 720 }, env('ADMIN_KEY'));
  await admin.goto(`${base}/ui/credentials`);
  await admin.screenshot({ path: `${out}/credentials.png`, fullPage: true });
  await admin.goto(`${base}/ui/audit`);
  await admin.click('text=Verify now');
  await admin.waitForSelector('#verified');
  await admin.screenshot({ path: `${out}/audit.png`, fullPage: true });
  console.log(`written to ${out}: queue.png, action.png, action-phone.png, credentials.png, audit.png`);
} finally {
  await browser.close();
}
