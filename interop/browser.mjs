// browser.mjs drives Debian's Chromium (headless, through playwright-core,
// which never downloads a browser here: it is given executablePath) over
// page/index.html, served from another origin than `redisflags serve`:
//
//   REDISFLAGS_INTEROP_TOKEN=… node browser.mjs CONFIG.json
//
// CONFIG.json: {"chromium", "userDataDir", "pageUrl", "baseUrl", "flag",
// "changes", "pollInterval"}. It prints one JSON report on stdout:
//
//   init:  the polling page initialised (CORS), with the value it shows;
//   poll:  the HTTP statuses of the bulk requests of that page: a later
//          poll must be a 304 (the ETag is readable across origins);
//   sse:   the event-stream page (pollInterval 0): the EventSource request
//          it opened, the bulk requests it made while nothing changed (0:
//          no polling), and, for each of `changes` writes through the admin
//          API, the milliseconds from the start of the write to the page
//          showing the new value (null: not within 5 s).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const token = process.env.REDISFLAGS_INTEROP_TOKEN;
const bulkUrl = `${cfg.baseUrl}/ofrep/v1/evaluate/flags`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function definition(value) {
  return {
    flagKey: cfg.flag, defaultEnabled: true, environments: {},
    variants: { current: value }, defaultVariant: 'current',
  };
}

async function putFlag(value) {
  const res = await fetch(`${cfg.baseUrl}/api/admin/flags/${cfg.flag}`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(definition(value)),
    signal: AbortSignal.timeout(10000),
  });
  if (res.status !== 200) {
    throw new Error(`PUT ${cfg.flag}: ${res.status} ${await res.text()}`);
  }
}

// watch records the page's requests to the server under test.
function watch(page) {
  const log = [];
  page.on('response', (res) => {
    const req = res.request();
    if (req.url().startsWith(cfg.baseUrl)) {
      log.push({ t: Date.now(), method: req.method(), url: req.url(), type: req.resourceType(), status: res.status() });
    }
  });
  page.on('requestfailed', (req) => {
    if (req.url().startsWith(cfg.baseUrl)) {
      log.push({ t: Date.now(), method: req.method(), url: req.url(), type: req.resourceType(), status: 0, failure: req.failure()?.errorText });
    }
  });
  return log;
}

const isBulk = (e) => e.method === 'POST' && e.url.split('?')[0] === bulkUrl;

async function waitReady(page) {
  await page.waitForFunction(() => window.__interop && (window.__interop.ready || window.__interop.error), null, { timeout: 20000 });
  return page.evaluate(() => ({ ...window.__interop, values: undefined }));
}

const report = {};
const context = await chromium.launchPersistentContext(cfg.userDataDir, {
  executablePath: cfg.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
try {
  const page = await context.newPage();
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));

  // 1. A page that polls: initialisation across origins, then a 304.
  const pollLog = watch(page);
  await page.goto(`${cfg.pageUrl}?base=${encodeURIComponent(cfg.baseUrl)}&flag=${cfg.flag}&mode=poll&interval=${cfg.pollInterval}`);
  report.init = await waitReady(page);
  if (report.init.ready) {
    const until = Date.now() + 5000;
    while (Date.now() < until && !pollLog.some((e) => isBulk(e) && e.status === 304)) {
      await sleep(50);
    }
  }
  report.poll = { statuses: pollLog.filter(isBulk).map((e) => e.status), requests: pollLog.slice(0, 20) };
  report.console = consoleLines;
  await page.close();

  // 2. A page with polling off: changes arrive through the event stream.
  if (report.init.ready) {
    const sse = await context.newPage();
    sse.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    sse.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    const log = watch(sse);
    const eventSources = [];
    sse.on('request', (req) => {
      if (req.resourceType() === 'eventsource') {
        eventSources.push(req.url());
      }
    });
    let waiting = null;
    await sse.exposeFunction('reportValue', (value, t) => {
      if (waiting && value === waiting.value) {
        waiting.resolve(t);
      }
    });
    await sse.goto(`${cfg.pageUrl}?base=${encodeURIComponent(cfg.baseUrl)}&flag=${cfg.flag}&mode=sse`);
    const ready = await waitReady(sse);
    const out = { ready, eventSources, latenciesMs: [], idleBulk: null, bulkDuringChanges: null };
    report.sse = out;
    if (ready.ready) {
      const until = Date.now() + 5000;
      while (Date.now() < until && eventSources.length === 0) {
        await sleep(50);
      }
      // Nothing changes for 1.5 s: a page that does not poll asks nothing.
      await sleep(300);
      const before = log.filter(isBulk).length;
      await sleep(1500);
      out.idleBulk = log.filter(isBulk).length - before;

      const start = log.filter(isBulk).length;
      for (let i = 1; i <= cfg.changes; i++) {
        const value = `change-${i}`;
        const seen = new Promise((resolve) => { waiting = { value, resolve }; });
        const t0 = Date.now();
        await putFlag(value);
        const t = await Promise.race([seen, sleep(5000).then(() => null)]);
        waiting = null;
        out.latenciesMs.push(t === null ? null : t - t0);
        await sleep(20 + (i % 5) * 10); // not in lockstep with anything
      }
      out.bulkDuringChanges = log.filter(isBulk).length - start;
      out.shown = await sse.evaluate(() => window.__interop.value);
    }
    out.requests = log.slice(0, 10);
    await sse.close();
  }
} catch (err) {
  report.error = String(err && err.stack ? err.stack : err);
} finally {
  await context.close();
}
process.stdout.write(JSON.stringify(report) + '\n');
