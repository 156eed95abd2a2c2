// What the console's browser scripts share: their settings from the
// environment, a check that stops the script with its reason, and Debian's
// Chromium launched headless by its path (no browser is downloaded).
import { chromium } from 'playwright-core';

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

export const check = (ok, what) => {
  if (!ok) throw new Error(`failed: ${what}`);
};

export const launch = () =>
  chromium.launch({ executablePath: env('CHROMIUM'), headless: true, args: ['--no-sandbox'] });
