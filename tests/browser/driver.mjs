// Drives one headless Chromium page for the real-browser e2e tests (tests/e2e/browser.rs),
// which run this script with node and talk to it in JSON lines.
//
// Owns: Debian's Chromium (/usr/bin/chromium, launched by playwright-core, which cannot
// download a browser of its own here) with a fresh profile directory per run, removed at exit;
// the one page; the line protocol below. The scenarios live in the Rust tests and in the pages
// ringpin serves from their origins: this script knows no URL, channel or expected value.
//
// Protocol. One JSON object per line each way.
//   stdin, one command at a time, each answered by exactly one {"reply": op, "value": ...}
//   or {"error": message}:
//     {"op": "goto", "url": U}                   load U; value: the HTTP status
//     {"op": "eval", "js": EXPR}                 value: EXPR evaluated in the page (awaited)
//     {"op": "wait", "js": EXPR, "timeout_ms": N} value: EXPR's first truthy value, polled
//     {"op": "screenshot", "path": P}            write a PNG of the whole page to P
//   stdout, also at any time:
//     {"ready": version}                         once, when the browser is up
//     {"report": V}                              the page called window.report(V)
//     {"request": {"url", "type", "headers"}}    the page sent a request (any kind; header
//                                                names in lower case)
//     {"console": text}, {"pageerror": message}  what the page logged or threw
// Usage: node driver.mjs [PROFILE_DIR]. End of stdin closes the browser, removes the profile
// directory and exits 0; a failure to launch exits 1.
//
// Flags: --no-sandbox (CI runs as root), and everything that would make Chromium reach out by
// itself (component updates, sync, QUIC probes, background networking) is off: the machine
// has no network but loopback, and those attempts would flood it with refused connections.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const VIEWPORT = { width: 1000, height: 700 };
const FLAGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];

const emit = (object) => process.stdout.write(JSON.stringify(object) + '\n');

async function launch(profile) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: VIEWPORT,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // Installed before any page script runs, on every navigation.
  await page.exposeBinding('report', (_source, value) => emit({ report: value }));
  // allHeaders(): what went on the wire, Last-Event-ID included (headers() has only what
  // the page's script set).
  page.on('request', async (request) => {
    const headers = await request.allHeaders().catch(() => request.headers());
    emit({ request: { url: request.url(), type: request.resourceType(), headers } });
  });
  page.on('console', (message) => emit({ console: `${message.type()}: ${message.text()}` }));
  page.on('pageerror', (error) => emit({ pageerror: String(error) }));
  page.on('crash', () => emit({ pageerror: 'the page crashed' }));
  return { context, page };
}

async function run(page, command) {
  switch (command.op) {
    case 'goto': {
      const response = await page.goto(command.url, { waitUntil: 'load' });
      return response ? response.status() : null;
    }
    case 'eval':
      return await page.evaluate(command.js);
    case 'wait': {
      const handle = await page.waitForFunction(command.js, undefined, {
        timeout: command.timeout_ms,
      });
      return await handle.jsonValue();
    }
    case 'screenshot':
      await page.screenshot({ path: command.path, fullPage: true });
      return null;
    default:
      throw new Error(`unknown op ${JSON.stringify(command.op)}`);
  }
}

async function main() {
  // The caller's directory (argv[2]) if it names one, so it can remove it should node be
  // killed; a new temp dir otherwise. Either way it must be empty: a fresh profile.
  const profile = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ringpin-chromium-'));
  fs.mkdirSync(profile, { recursive: true });
  let browser;
  try {
    browser = await launch(profile);
  } catch (error) {
    emit({ error: `launching ${CHROMIUM}: ${error.message}` });
    fs.rmSync(profile, { recursive: true, force: true });
    process.exit(1);
  }
  emit({ ready: browser.context.browser()?.version() ?? 'unknown' });
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let command;
    try {
      command = JSON.parse(line);
      emit({ reply: command.op, value: (await run(browser.page, command)) ?? null });
    } catch (error) {
      emit({ error: `${command?.op ?? 'command'} failed: ${error.message}` });
    }
  }
  await browser.context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

await main();
