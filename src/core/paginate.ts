/** One page of a listing and the cursor of the next (absent, null or empty at the end). */
export interface Page<T, C> {
  readonly items: readonly T[];
  readonly next?: C | null;
}

/**
 * The pages of a cursor-paginated listing — catalog queries, bucket listings, the API's transfer pages — fetched
 * one at a time as the caller asks: `fetch(first)`, then `fetch(next)` until a page has no next cursor. A caller
 * that stops early (`break`, `return`) fetches nothing more.
 */
export async function* paginate<T, C>(
  fetch: (cursor: C | undefined) => Promise<Page<T, C>>,
  first?: C,
): AsyncGenerator<Page<T, C>, void, undefined> {
  let cursor = first;
  do {
    const page = await fetch(cursor);
    yield page;
    cursor = page.next || undefined;
  } while (cursor);
}

/** Every item of every page, in order. */
export async function collectPages<T, C>(pages: AsyncIterable<Page<T, C>>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) all.push(...page.items);
  return all;
}
