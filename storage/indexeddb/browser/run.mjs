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
import zlib from 'node:zlib';

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

/// Runs `bin args` to completion, resolving with its standard output.
function runProcess(bin, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (data) => { out += data; });
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${bin} exited with ${code}`))));
  });
}

/// Resolves with `probe()`'s value once `ok(value)` holds; rejects after `ms` with the last value.
async function until(what, probe, ok, ms = 20000) {
  const deadline = Date.now() + ms;
  let value;
  for (;;) {
    value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const launchArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/// The demo page (examples/browser, its typed JS/TS API) in two browser contexts, with a
/// native client, all through the native example server with tokens (no --anonymous):
/// text and LWW edits converge everywhere, a delete leaves the other list, a reload with
/// the server stopped shows the data from IndexedDB and an offline edit reaches everyone
/// when the server is back. With `bench`, also the native commit → page callback latency.
async function demoTest(examples, bench) {
  let failures = 0;
  const check = async (what, run) => {
    try {
      await run();
      console.log(`PASS demo: ${what}`);
    } catch (error) {
      failures += 1;
      console.log(`FAIL demo: ${what}: ${error && error.message || error}`);
      // What each side holds (through the typed API) and the native client's last words.
      for (const [who, page] of [['A', pages[0]], ['B', pages[1]]]) {
        if (!page) continue;
        const held = await page.evaluate(() => window.Album.fetch(window.ctx, 'ORDER BY year')
          .then((views) => views.map((v) => [v.name, v.year]), String)).catch(String);
        console.log(`    page ${who} holds ${JSON.stringify(held)}`);
      }
      if (client) console.log(`    the native client said, last:\n${client.output.split('\n').slice(-8).join('\n')}`);
    }
  };
  const pages = [];
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'ankurah-demo-server-'));
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'ankurah-demo-client-'));
  const startServer = (addr) => startProcess(path.join(examples, 'server'), [addr, data], /serving on (ws:\/\/\S+)/, 30000);
  let { child: server, match } = await startServer('127.0.0.1:0');
  const wsUrl = match[1];
  const demoServer = await serve(demoDir);
  const base = `http://127.0.0.1:${demoServer.address().port}/index.html`;
  const second = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'ankurah-idb-b-')), {
    executablePath: '/usr/bin/chromium', headless: true, args: launchArgs,
  });
  let client;
  const open = async (ctx, user) => {
    const token = await runProcess(path.join(examples, 'token'), [user]);
    const page = await ctx.newPage();
    page.on('console', (message) => console.log(`    [${user}] ${message.text()}`));
    page.on('pageerror', (error) => console.log(`    [${user}] pageerror: ${error.message}`));
    const query = new URLSearchParams({ server: wsUrl, user, token, db: `ankurah-demo-test-${user}` });
    await page.goto(`${base}?${query}`);
    await page.waitForFunction(() => window.demoReady === true, null, { timeout: 60000 });
    return page;
  };
  const state = (page) => page.textContent('#state');
  // The rows a page shows: [name, year] each, in list order.
  const rows = (page) => page.$$eval('#albums li', (items) => items.map((li) => [li.querySelector('.name').value, Number(li.querySelector('.year').value)]));
  // The row whose name contains `text` (by its input's current value).
  const rowIndex = (page, text) => until(`a row containing ${text}`, () => rows(page).then((r) => r.findIndex(([name]) => name.includes(text))), (i) => i >= 0);
  const nativeLast = (pattern) => [...client.output.matchAll(pattern)].map((m) => m[1]).pop();
  try {
    const a = await open(context, 'alice');
    const b = await open(second, 'bob');
    pages.push(a, b);
    await check('both pages connect with their tokens', async () => {
      await until('page A state', () => state(a), (s) => s === 'Connected');
      await until('page B state', () => state(b), (s) => s === 'Connected');
    });
    ({ child: client } = await startProcess(path.join(examples, 'client'), [wsUrl, '--name', 'carol', '--store', store], /Ctrl-D quits/, 30000));

    await check('an album added on page A reaches page B and the native client', async () => {
      await a.fill('#name', 'Alpha');
      await a.fill('#year', '2001');
      await a.click('#add button');
      await until('page B', () => rows(b), (r) => r.some(([name, year]) => name === 'Alpha' && year === 2001));
      await client.waitFor(/Add: Alpha \(2001\)/, 20000);
    });

    await check('text edits (two pages, the native client) and LWW writes converge everywhere', async () => {
      const [ia, ib] = [await rowIndex(a, 'Alpha'), await rowIndex(b, 'Alpha')];
      const nameA = a.locator('#albums li .name').nth(ia);
      const nameB = b.locator('#albums li .name').nth(ib);
      await nameA.focus();
      await a.keyboard.press('End');
      await nameB.focus();
      await b.keyboard.press('Home');
      // All three at once: A appends, B prepends, the native client appends and sets the year.
      client.stdin.write('/append Alpha= native\n');
      await Promise.all([a.keyboard.type(' ä'), b.keyboard.type('B ')]);
      await a.locator('#albums li .year').nth(ia).fill('2005');
      await a.locator('#albums li .year').nth(ia).press('Enter');
      client.stdin.write('/year Alpha=2007\n');
      await a.locator('#add #name').focus();
      await b.locator('#add #name').focus();
      const merged = await until('the three names and years', async () => {
        const [ra, rb] = [await rows(a), await rows(b)];
        const native = nativeLast(/(?:Add|Update): (.*Alpha.*) \((\d+)\)/g);
        const nativeYear = Number(nativeLast(/(?:Add|Update): .*Alpha.* \((\d+)\)/g));
        return { a: ra.find(([n]) => n.includes('Alpha')), b: rb.find(([n]) => n.includes('Alpha')), native, nativeYear };
      // Each insertion arrives whole, but concurrent insertions at one place may interleave
      // (page A types ' ' and 'ä' as two edits): the characters are all there, in one order.
      }, (v) => v.a && v.b && v.a[0] === v.b[0] && v.a[0] === v.native && v.a[1] === v.b[1] && v.a[1] === v.nativeYear
        && v.native.startsWith('B Alpha') && v.native.includes('ä') && v.native.includes('native')
        && v.native.length === 'B Alpha ä native'.length);
      console.log(`    converged on ${JSON.stringify(merged.a)}`);
    });

    await check('a delete on page A leaves page B and the native client', async () => {
      await b.fill('#name', 'Beta');
      await b.fill('#year', '2003');
      await b.click('#add button');
      const i = await rowIndex(a, 'Beta');
      await a.locator('#albums li .delete').nth(i).click();
      await until('page B without Beta', () => rows(b), (r) => r.length === 1 && !r.some(([name]) => name === 'Beta'));
      // A deleted album has no values left: the client prints its removal without them.
      await client.waitFor(/Add: Beta \(2003\)[\s\S]*Remove: [\s\S]*-- 1 albums/, 20000);
    });

    let expected;
    await check('with the server stopped, a reloaded page shows its albums from IndexedDB', async () => {
      expected = (await rows(a))[0];
      server.kill('SIGINT');
      await server.waitFor(/stopped/, 20000);
      await until('page A offline', () => state(a), (s) => s !== 'Connected');
      await a.reload();
      await a.waitForFunction(() => window.demoReady === true, null, { timeout: 60000 });
      await until('page A after the reload', () => rows(a), (r) => JSON.stringify(r) === JSON.stringify([expected]));
      if ((await state(a)) === 'Connected') throw new Error('connected while the server is down');
    });

    await check('an edit made offline reaches the server, page B and the native client when it returns', async () => {
      const nameA = a.locator('#albums li .name').nth(0);
      await nameA.focus();
      await a.keyboard.press('End');
      await a.keyboard.type(' offline');
      await a.locator('#albums li .year').nth(0).fill('1999');
      await a.locator('#albums li .year').nth(0).press('Enter');
      await a.locator('#add #name').focus();
      const want = [`${expected[0]} offline`, 1999];
      await until('page A, offline', () => rows(a), (r) => JSON.stringify(r) === JSON.stringify([want]));
      ({ child: server } = await startServer(new URL(wsUrl).host));
      await until('page A reconnects', () => state(a), (s) => s === 'Connected');
      await until('page B', () => rows(b), (r) => JSON.stringify(r) === JSON.stringify([want]));
      await client.waitFor(new RegExp(`Update: ${want[0].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(1999\\)`), 20000);
    });

    await check('typed errors: a bad query throws an AnkurahError of kind InvalidQuery', async () => {
      const got = await a.evaluate(() => {
        try { window.Album.query(window.ctx, 'year >'); return 'no error'; } catch (e) { return `${e.name}/${e.kind}`; }
      });
      if (got !== 'AnkurahError/InvalidQuery') throw new Error(got);
    });

    if (bench) {
      // Paced (one commit per 100 ms: the latency of one change) and as fast as the native
      // side commits with a 10 ms pause (the page falls behind: queueing shows).
      for (const [run, count, pause] of [['paced', 100, 100], ['flooded', 300, 10]]) {
        await check(`benchmark: native commit → page live-query callback, ${run}`, async () => {
          await a.evaluate(() => {
            window.latencies = [];
            const seen = new Set();
            const since = Date.now();
            window.latencyQuery = window.Album.query(window.ctx, 'year = 4242');
            window.latencySubscription = window.latencyQuery.subscribe((items) => {
              const now = performance.timeOrigin + performance.now();
              for (const album of items) {
                const committed = Number(album.name.split(' ')[1]) / 1000;
                // Albums of an earlier run are not this run's.
                if (seen.has(album.id) || committed < since) continue;
                seen.add(album.id);
                window.latencies.push(now - committed);
              }
            });
          });
          await a.evaluate(() => window.latencyQuery.ready());
          await runProcess(path.join(examples, 'browser_latency'), [wsUrl, String(count), String(pause)]);
          const all = await until('the page saw every album', () => a.evaluate(() => window.latencies.slice()), (l) => l.length >= count);
          await a.evaluate(() => window.latencySubscription.unsubscribe());
          const latencies = all.sort((x, y) => x - y);
          const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1);
          console.log(`BENCH native commit → browser callback over loopback, ${run} (${count} commits, ${pause} ms apart): p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms`);
        });
      }
    }
    client.stdin.end();
  } catch (error) {
    failures += 1;
    console.log(`FAIL demo: ${error && error.stack || error}`);
  } finally {
    if (client) client.kill();
    server.kill('SIGINT');
    demoServer.close();
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

  // The benchmark (ANKURAH_BENCH=count): figures for docs/PERFORMANCE.md.
  const count = Number(process.env.ANKURAH_BENCH ?? 0);

  // The demo (ANKURAH_EXAMPLES=dir of the native example binaries): two browser contexts
  // and a native client through the native server.
  if (process.env.ANKURAH_EXAMPLES) failed += await demoTest(process.env.ANKURAH_EXAMPLES, count > 0);

  if (count > 0) {
    const { page, log } = await freshPage();
    const figures = await page.evaluate(
      ([db, n]) => window.ankurah.bench(db, n).then((r) => r, (e) => `error: ${e}`),
      [`ankurah-bench-${Date.now()}`, count],
    );
    console.log(`BENCH ${figures}`);
    // Transactions of 100, then a new node's first load of all of them.
    const bulk = await page.evaluate(
      ([db]) => window.ankurah.bench_bulk(db, 1000).then((r) => r, (e) => `error: ${e}`),
      [`ankurah-bench-bulk-${Date.now()}`],
    );
    console.log(`BENCH ${bulk}`);
    if (figures.startsWith('error') || bulk.startsWith('error')) {
      failed += 1;
      for (const line of log) console.log(`    ${line}`);
    }
    await page.close();
    const wasm = fs.readFileSync(path.join(demoDir, 'pkg', 'ankurah_browser_demo_bg.wasm'));
    console.log(`BENCH the demo's wasm bundle: ${wasm.length} bytes, ${zlib.gzipSync(wasm, { level: 9 }).length} gzipped (level 9)`);
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
