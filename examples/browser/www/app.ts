// The browser demo's page: the album list, live, on the typed API that `#[derive(Model)]`
// generates (see `ankurah::wasm`). Compiled by `scripts/wasm.sh build` (tsc, strict) into
// app.js next to it.
//
// URL parameters: `server` (default ws://127.0.0.1:9797), `user` and `token` (a token for
// that user, printed by `cargo run -p ankurah-examples --bin token -- USER`), `db` (the
// IndexedDB database, default ankurah-demo-USER).
import init, { Album, AlbumView, LiveQuery, install_panic_hook, start } from './pkg/ankurah_browser_demo.js';
import type { AnkurahError, Context } from './pkg/ankurah_browser_demo.js';

/** The text edit that turns `before` into `after`: one deletion and one insertion at the
 * first differing character, positions in Unicode characters as the API counts them. */
export function textDiff(before: string, after: string): { index: number; remove: number; insert: string } {
  const [a, b] = [Array.from(before), Array.from(after)];
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
  let end = 0;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end += 1;
  return { index: start, remove: a.length - start - end, insert: b.slice(start, b.length - end).join('') };
}

/** Runs `task` after every task queued before it for the same key (one album's edits
 * commit in order, each against the state the previous one left); `idle()` runs once the
 * key's queue is empty again. */
const queues = new Map<string, Promise<void>>();
function enqueue(key: string, task: () => Promise<void>, idle: () => void): void {
  const next = (queues.get(key) ?? Promise.resolve()).then(task).catch(report);
  queues.set(key, next);
  void next.then(() => {
    if (queues.get(key) !== next) return;
    queues.delete(key);
    idle();
  });
}

/** `edit`, made against the text `base`, moved past a change made meanwhile that turned
 * `base` into `current` (an edit of another client merged in). */
function rebase(edit: { index: number; remove: number; insert: string }, base: string, current: string) {
  if (base === current) return edit;
  const other = textDiff(base, current);
  // A change at the very place of the edit went in after it: this client's text stays first.
  if (other.index >= edit.index) return edit;
  const shift = Array.from(other.insert).length - other.remove;
  return { ...edit, index: Math.max(other.index, edit.index + shift) };
}

function report(error: unknown): void {
  const e = error as AnkurahError;
  const text = e && e.kind ? `${e.kind}: ${e.message}` : String(error);
  console.error(text);
  const box = document.getElementById('error');
  if (box) box.textContent = text;
}

/** One album's row: its name (edited as collaborative text), year (last writer wins) and
 * a delete button. `sent` is the name as this page last wrote or saw it. */
interface Row { item: HTMLLIElement; name: HTMLInputElement; year: HTMLInputElement; sent: string; view: AlbumView }

function rowFor(ctx: Context, view: AlbumView, rows: Map<string, Row>, refresh: () => void): Row {
  const existing = rows.get(view.id);
  if (existing) return existing;
  const item = document.createElement('li');
  item.dataset.id = view.id;
  const name = document.createElement('input');
  name.className = 'name';
  const year = document.createElement('input');
  year.className = 'year';
  year.type = 'number';
  const remove = document.createElement('button');
  remove.className = 'delete';
  remove.textContent = 'Delete';
  item.append(name, year, remove);
  const row: Row = { item, name, year, sent: '', view };
  name.addEventListener('input', () => {
    const base = row.sent;
    const typed = textDiff(base, name.value);
    row.sent = name.value;
    enqueue(row.view.id, async () => {
      const trx = ctx.begin();
      const album = trx.edit(row.view);
      const { index, remove: count, insert } = rebase(typed, base, album.name.value());
      if (count > 0) album.name.delete(index, count);
      if (insert) album.name.insert(index, insert);
      await trx.commit();
    }, refresh);
  });
  year.addEventListener('change', () => {
    // Read now: until the queue reaches it, the box may show the stored year again.
    const value = Number(year.value);
    enqueue(row.view.id, async () => {
      const trx = ctx.begin();
      trx.edit(row.view).year.set(value);
      await trx.commit();
    }, refresh);
  });
  // While the box had the focus, renders left it alone: show what is stored now.
  year.addEventListener('blur', refresh);
  remove.addEventListener('click', () => {
    enqueue(row.view.id, async () => {
      const trx = ctx.begin();
      trx.delete(row.view);
      await trx.commit();
    }, refresh);
  });
  rows.set(view.id, row);
  return row;
}

/** Shows `text` in `input`, keeping the caret where it was relative to the text around it. */
function showText(input: HTMLInputElement, text: string): void {
  if (input.value === text) return;
  const caret = input.selectionStart;
  const { index, remove, insert } = textDiff(input.value, text);
  input.value = text;
  if (caret !== null && document.activeElement === input) {
    // Caret positions are UTF-16 units; the diff counts characters.
    const unitsBefore = Array.from(text).slice(0, index).join('').length;
    const shift = insert.length - Array.from(input.value).slice(index, index + remove).join('').length;
    const at = caret > unitsBefore ? Math.max(unitsBefore, caret + shift) : caret;
    input.setSelectionRange(at, at);
  }
}

/** A function that renders `query`'s current result on the next animation frame: however
 * many changes arrive in between, a page following a busy server renders once per frame. */
function renderer(ctx: Context, query: LiveQuery<AlbumView>, rows: Map<string, Row>, list: HTMLElement): () => void {
  let pending = false;
  const refresh = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render(ctx, query.current, rows, list, refresh);
    });
  };
  return refresh;
}

function render(ctx: Context, albums: AlbumView[], rows: Map<string, Row>, list: HTMLElement, refresh: () => void): void {
  const live = new Set<string>();
  const items = albums.map((view) => {
    const row = rowFor(ctx, view, rows, refresh);
    row.view = view;
    live.add(view.id);
    // A row with edits still queued shows what was typed; once they are stored, `refresh`
    // shows the merge.
    if (!queues.has(view.id)) {
      const name = view.name;
      row.sent = name;
      showText(row.name, name);
      if (document.activeElement !== row.year) row.year.value = String(view.year);
    }
    return row.item;
  });
  for (const id of [...rows.keys()]) if (!live.has(id)) rows.delete(id);
  // Rows move only when their place changed: a moved input would lose the focus.
  items.forEach((item, i) => { if (list.children[i] !== item) list.insertBefore(item, list.children[i] ?? null); });
  while (list.children.length > items.length) list.lastElementChild!.remove();
  document.getElementById('count')!.textContent = `${albums.length} albums`;
}

async function main(): Promise<void> {
  await init();
  install_panic_hook();
  const params = new URLSearchParams(location.search);
  const user = params.get('user') ?? 'guest';
  const token = params.get('token');
  const stateText = document.getElementById('state')!;
  const demo = await start(
    params.get('db') ?? `ankurah-demo-${user}`,
    params.get('server') ?? 'ws://127.0.0.1:9797',
    user,
    () => token,
    (state: string) => { stateText.textContent = state; stateText.className = state; },
  );
  const ctx = demo.ctx;
  document.getElementById('user')!.textContent = user;
  if (!token) report('no token: open this page with ?user=NAME&token=... (cargo run -p ankurah-examples --bin token -- NAME)');

  const rows = new Map<string, Row>();
  const list = document.getElementById('albums')!;
  const albums: LiveQuery<AlbumView> = Album.query(ctx, 'ORDER BY year');
  const subscription = albums.subscribe(renderer(ctx, albums, rows, list));

  const form = document.getElementById('add') as HTMLFormElement;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = document.getElementById('name') as HTMLInputElement;
    const year = document.getElementById('year') as HTMLInputElement;
    const shared = document.getElementById('shared') as HTMLInputElement;
    const trx = ctx.begin();
    void trx.create(Album, { name: name.value, artist: shared.checked ? 'everyone' : user, year: Number(year.value) })
      .then(() => trx.commit())
      .catch(report);
    name.value = '';
  });
  // For the browser tests: the running node and the typed API.
  Object.assign(window, { demo, ctx, Album, albums, subscription, demoReady: true });
}

main().catch(report);
