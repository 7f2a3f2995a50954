// Runs the IndexedDB engine's conformance suite in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; never a downloaded browser). Serves this
// directory on 127.0.0.1, loads a fresh page per check, prints one line per check and
// exits non-zero if any failed.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

function serve() {
  const server = http.createServer((req, res) => {
    const file = path.join(here, path.normalize(new URL(req.url, 'http://x').pathname));
    if (!file.startsWith(here) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const server = await serve();
const url = `http://127.0.0.1:${server.address().port}/index.html`;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ankurah-idb-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function freshPage() {
  const page = await context.newPage();
  const log = [];
  page.on('console', (message) => log.push(message.text()));
  page.on('pageerror', (error) => log.push(`pageerror: ${error.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.ankurahReady === true, null, { timeout: 60000 });
  return { page, log };
}

let failed = 0;
try {
  const { page: first } = await freshPage();
  const checks = await first.evaluate(() => window.ankurah.checks());
  await first.close();
  for (const check of checks) {
    const started = Date.now();
    const { page, log } = await freshPage();
    const outcome = await page.evaluate(
      (name) => window.ankurah.run_check(name).then(() => 'ok', (error) => String(error)),
      check,
    );
    const ms = Date.now() - started;
    if (outcome === 'ok') {
      console.log(`PASS ${check} (${ms} ms)`);
    } else {
      failed += 1;
      console.log(`FAIL ${check} (${ms} ms): ${outcome}`);
      for (const line of log) console.log(`    ${line}`);
    }
    await page.close();
  }
  // A node writes albums (one deleted); after a reload a new node finds them in IndexedDB.
  const { page, log } = await freshPage();
  const database = `ankurah-reload-${Date.now()}`;
  const wrote = await page.evaluate((db) => window.ankurah.write_albums(db).then(() => 'ok', String), database);
  await page.reload();
  await page.waitForFunction(() => window.ankurahReady === true, null, { timeout: 60000 });
  const read = await page.evaluate((db) => window.ankurah.read_albums(db).then((r) => r, (e) => `error: ${e}`), database);
  const expected = 'The Origin of Symmetry:2001';
  if (wrote === 'ok' && read === expected) {
    console.log('PASS reload: a new node reads the albums from IndexedDB after a reload; the deleted one stays gone');
  } else {
    failed += 1;
    console.log(`FAIL reload: write ${wrote}, read after reload ${JSON.stringify(read)}, expected ${JSON.stringify(expected)}`);
    for (const line of log) console.log(`    ${line}`);
  }
  await page.close();

  // Node-level checks that return nothing: they reject if they fail.
  const nodeChecks = ['live_query'];
  for (const check of nodeChecks) {
    const { page, log } = await freshPage();
    const outcome = await page.evaluate(
      ([name, db]) => window.ankurah[name](db).then(() => 'ok', String),
      [check, `ankurah-${check}-${Date.now()}`],
    );
    if (outcome === 'ok') {
      console.log(`PASS ${check}`);
    } else {
      failed += 1;
      console.log(`FAIL ${check}: ${outcome}`);
      for (const line of log) console.log(`    ${line}`);
    }
    await page.close();
  }
  console.log(`${checks.length + 1 + nodeChecks.length - failed} passed, ${failed} failed`);

  // The benchmark (ANKURAH_BENCH=count): figures for docs/PERFORMANCE.md.
  const count = Number(process.env.ANKURAH_BENCH ?? 0);
  if (count > 0) {
    const { page, log } = await freshPage();
    const figures = await page.evaluate(
      ([db, n]) => window.ankurah.bench(db, n).then((r) => r, (e) => `error: ${e}`),
      [`ankurah-bench-${Date.now()}`, count],
    );
    console.log(`BENCH ${figures}`);
    if (figures.startsWith('error')) {
      failed += 1;
      for (const line of log) console.log(`    ${line}`);
    }
    await page.close();
  }
} catch (error) {
  failed += 1;
  console.log(`FAIL harness: ${error && error.stack || error}`);
} finally {
  await context.close();
  server.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
