// Compile-time checks of the generated TypeScript declarations (scripts/wasm.sh build runs
// tsc on it; it is never loaded): each `@ts-expect-error` line must be an error, so
// declarations that fell back to `any` fail the build.
import { Album, AlbumMut, AlbumView, LiveQuery, Subscription } from './pkg/ankurah_browser_demo.js';
import type { AnkurahError, Context, ErrorKind, LWW, YrsString } from './pkg/ankurah_browser_demo.js';

export async function typed(ctx: Context): Promise<void> {
  const query: LiveQuery<AlbumView> = Album.query(ctx, 'year > 2000');
  const subscription: Subscription = query.subscribe((albums: AlbumView[]) => {
    const [first] = albums;
    const name: string = first.name;
    const year: number = first.year;
    void [name, year];
  });
  subscription.unsubscribe();
  const view: AlbumView = await Album.get(ctx, 'an id');
  const views: AlbumView[] = await Album.fetch(ctx, 'year > 2000');
  const trx = ctx.begin();
  const created: AlbumMut = await trx.create(Album, { name: 'Showbiz', artist: 'Muse', year: 1999 });
  const text: YrsString = created.name;
  text.insert(0, 'The ');
  const year: LWW<number> = trx.edit(view).year;
  year.set(2001);
  trx.delete(views[0]);
  await trx.commit();
  try {
    Album.query(ctx, 'year >');
  } catch (error) {
    const kind: ErrorKind = (error as AnkurahError).kind;
    void kind;
  }

  // @ts-expect-error: a year is a number
  const wrong: string = view.year;
  // @ts-expect-error: setting a string into a number field
  trx.edit(view).year.set('2001');
  // @ts-expect-error: a new album needs every field
  await trx.create(Album, { name: 'Absolution' });
  // @ts-expect-error: a name is a text handle, not a register
  created.name.set('x');
  void wrong;
}
