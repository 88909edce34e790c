import { describe, expect, it } from 'vitest';
import { collectPages, paginate } from '../../../src/core/paginate.js';

/** A listing of `items` in pages of `size`, recording the cursors it was asked for. */
function listing(items: readonly number[], size: number) {
  const asked: (number | undefined)[] = [];
  const fetch = async (cursor: number | undefined) => {
    asked.push(cursor);
    const from = cursor ?? 0;
    const end = from + size;
    return { items: items.slice(from, end), next: end < items.length ? end : undefined };
  };
  return { asked, fetch };
}

describe('paginate', () => {
  it('follows the cursors to the last page', async () => {
    const { asked, fetch } = listing([1, 2, 3, 4, 5], 2);
    expect(await collectPages(paginate(fetch))).toEqual([1, 2, 3, 4, 5]);
    expect(asked).toEqual([undefined, 2, 4]);
  });

  it('starts from a given cursor', async () => {
    const { asked, fetch } = listing([1, 2, 3, 4, 5], 2);
    expect(await collectPages(paginate(fetch, 2))).toEqual([3, 4, 5]);
    expect(asked).toEqual([2, 4]);
  });

  it('fetches no further page once the caller stops', async () => {
    const { asked, fetch } = listing([1, 2, 3, 4, 5], 2);
    for await (const page of paginate(fetch)) if (page.items.includes(3)) break;
    expect(asked).toEqual([undefined, 2]);
  });

  it('ends on a null or empty cursor, as the API and S3 send them', async () => {
    const pages = [
      { items: ['a'], next: 'x' },
      { items: ['b'], next: null },
    ];
    let i = 0;
    expect(await collectPages(paginate(async () => pages[i++]!))).toEqual(['a', 'b']);
    expect(await collectPages(paginate(async () => ({ items: ['c'], next: '' })))).toEqual(['c']);
  });
});
