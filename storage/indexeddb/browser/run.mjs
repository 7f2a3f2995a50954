// Runs the IndexedDB engine's conformance suite in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; never a downloaded browser). Serves this
// directory on 127.0.0.1, loads a fresh page per check, prints one line per check and
// exits non-zero if any failed.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

function serve(root = here, port = 0) {
  const server = http.createServer((req, res) => {
    const file = path.join(root, path.normalize(new URL(req.url, 'http://x').pathname).replace(/\/$/, '/index.html'));
    if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

// `node run.mjs --serve DIR PORT` only serves DIR (the demo page), until interrupted.
if (process.argv[2] === '--serve') {
  await serve(path.resolve(process.argv[3]), Number(process.argv[4] ?? 8080));
  await new Promise(() => {});
}

const demoDir = path.resolve(here, '../../../examples/browser/www');
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

/// Runs `bin args`, resolving once its output matches `pattern` (within `ms`).
function startProcess(bin, args, pattern, ms) {
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.output = '';
  child.waitFor = (pattern, ms) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} from ${bin} within ${ms} ms; it said:\n${child.output}`)), ms);
    const check = () => {
      const match = child.output.match(pattern);
      if (match) { clearTimeout(timer); resolve(match); } else setTimeout(check, 20);
    };
    check();
  });
  child.stdout.on('data', (data) => { child.output += data; });
  child.stderr.on('data', (data) => { child.output += data; });
  return child.waitFor(pattern, ms).then((match) => ({ child, match }));
}

async function syncTest(examples) {
  let failures = 0;
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'ankurah-sync-server-'));
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'ankurah-sync-client-'));
  const { child: server, match } = await startProcess(
    path.join(examples, 'server'), ['127.0.0.1:0', data, '--anonymous'], /serving on (ws:\/\/\S+)/, 30000);
  const wsUrl = match[1];
  const second = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'ankurah-idb-b-')), {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
  });
  const pageIn = async (ctx) => {
    const page = await ctx.newPage();
    page.on('console', (message) => console.log(`    [browser] ${message.text()}`));
    await page.goto(url);
    await page.waitForFunction(() => window.ankurahReady === true, null, { timeout: 60000 });
    return page;
  };
  const call = (page, name, ...args) => page.evaluate(
    ([name, args]) => window.ankurah[name](...args).then((r) => ({ ok: r ?? null }), (e) => ({ error: String(e) })),
    [name, args]);
  const expect = (what, got, want) => {
    const ok = JSON.stringify(got) === JSON.stringify(want);
    if (!ok) failures += 1;
    console.log(`${ok ? 'PASS' : 'FAIL'} sync: ${what}${ok ? '' : `: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`}`);
  };
  let client;
  try {
    const a = await pageIn(context);
    const b = await pageIn(second);
    expect('browser A creates Alpha', await call(a, 'sync_create', 'sync-a', wsUrl, 'Alpha', 2001), { ok: null });
    expect('browser B creates Beta', await call(b, 'sync_create', 'sync-b', wsUrl, 'Beta', 2002), { ok: null });
    ({ child: client } = await startProcess(path.join(examples, 'client'), [wsUrl, '--store', store], /Ctrl-D quits/, 30000));
    client.stdin.write('Gamma 2003\n');
    await client.waitFor(/Alpha[\s\S]*Beta|Beta[\s\S]*Alpha/, 20000).then(
      () => expect('the native client sees both browsers\' albums', true, true),
      (error) => expect(`the native client sees both browsers' albums (${error.message})`, false, true));
    await client.waitFor(/-- 3 albums/, 20000).catch(() => {});
    expect('browser A converges', await call(a, 'sync_wait', 'sync-a', wsUrl, 'Alpha,Beta,Gamma', 20), { ok: 'Alpha,Beta,Gamma' });
    expect('browser B converges', await call(b, 'sync_wait', 'sync-b', wsUrl, 'Alpha,Beta,Gamma', 20), { ok: 'Alpha,Beta,Gamma' });
    expect('browser A deletes Gamma', await call(a, 'sync_delete', 'sync-a', wsUrl, 'Gamma'), { ok: null });
    expect('the delete reaches browser B', await call(b, 'sync_wait', 'sync-b', wsUrl, 'Alpha,Beta', 20), { ok: 'Alpha,Beta' });
    await client.waitFor(/-- 3 albums[\s\S]*Remove:[\s\S]*-- 2 albums/, 20000).then(
      () => expect('the delete reaches the native client', true, true),
      (error) => expect(`the delete reaches the native client (${error.message})`, false, true));
    // The demo page, in browser B: it lists the server's albums and adds one.
    const demoServer = await serve(demoDir);
    const demo = await second.newPage();
    demo.on('console', (message) => console.log(`    [demo] ${message.text()}`));
    await demo.goto(`http://127.0.0.1:${demoServer.address().port}/index.html?server=${wsUrl}`);
    await demo.waitForFunction(() => window.demoReady === true, null, { timeout: 60000 });
    const listed = await demo.waitForFunction(
      () => document.querySelectorAll('#albums li').length === 2 && document.getElementById('state').textContent === 'Connected',
      null, { timeout: 20000 }).then(() => true, () => false);
    expect('the demo page lists the albums, connected', listed, true);
    await demo.fill('#name', 'Delta');
    await demo.fill('#year', '2004');
    await demo.click('button');
    await client.waitFor(/Add: Delta \(2004\)/, 20000).then(
      () => expect('an album added on the demo page reaches the native client', true, true),
      (error) => expect(`an album added on the demo page reaches the native client (${error.message})`, false, true));
    demoServer.close();
    client.stdin.end();
  } catch (error) {
    failures += 1;
    console.log(`FAIL sync: ${error && error.stack || error}`);
  } finally {
    if (client) client.kill();
    server.kill('SIGINT');
    await second.close();
    fs.rmSync(data, { recursive: true, force: true });
    fs.rmSync(store, { recursive: true, force: true });
  }
  return failures;
}

let failed = 0;
try {
  const { page: first } = await freshPage();
  const checks = await first.evaluate(() => window.ankurah.checks());
  await first.close();
  for (const check of checks) {
    const started = Date.now();
    const { page, log } = await freshPage();
    // A failed check panics, which traps inside the wasm executor: its promise never
    // settles, so a check that takes too long has failed (its panic is in the log).
    const outcome = await page.evaluate(
      (name) => Promise.race([
        window.ankurah.run_check(name).then(() => 'ok', (error) => String(error)),
        new Promise((resolve) => setTimeout(() => resolve('no result within 60 s'), 60000)),
      ]),
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
      ([name, db]) => Promise.race([
        window.ankurah[name](db).then(() => 'ok', String),
        new Promise((resolve) => setTimeout(() => resolve('no result within 60 s'), 60000)),
      ]),
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

  // Sync (ANKURAH_EXAMPLES=dir of the native example binaries): two browser contexts and a
  // native client converge through a native server; a delete made in one browser reaches
  // the other.
  if (process.env.ANKURAH_EXAMPLES) failed += await syncTest(process.env.ANKURAH_EXAMPLES);

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
