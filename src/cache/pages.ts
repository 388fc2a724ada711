import { builtAddon, loadAddon } from "../core/addons.js";

/**
 * Giving back the memory-mapped pages of a blob that has been read (native/pages.c). A stage reads
 * its inputs in place from LMDB's map and decodes them into values of their own; the pages it
 * touched would otherwise stay resident while it runs, as large as its inputs. They stay in the
 * kernel's page cache: a later read of the blob faults them back, with the same bytes.
 */
interface PagesAddon {
  release(view: Uint8Array): number;
}

/** undefined: not looked for yet; null: none here (not built, not Linux, does not load). */
let addon: PagesAddon | null | undefined;

function pagesAddon(): PagesAddon | null {
  if (addon !== undefined) return addon;
  const path = builtAddon("rnnp_pages");
  addon = path ? pagesAddonAt(path) : null;
  return addon;
}

/**
 * The add-on at `path`, or null when it does not load (not built: no compiler at install; the pages
 * then stay until the process ends) or lacks its function.
 */
export function pagesAddonAt(path: string): PagesAddon | null {
  const exports = loadAddon(path) as Partial<PagesAddon> | undefined;
  return typeof exports?.release === "function" ? (exports as PagesAddon) : null;
}

/**
 * lmdb lends a blob over this size as a view of its map (CacheStore.withBlob); a smaller one comes
 * copied into its 16 MiB read buffer, the process's own memory, with no pages to give back (and the
 * look-up in /proc/self/maps, about 0.1 ms, would be for nothing).
 */
export const LENT_OVER = 16 * 1024 * 1024;

/**
 * Drops the whole pages inside `view` from this process's memory when `view` lies in a shared
 * mapping of a file (LMDB's map), and returns how many bytes that gave back. Anything else (a
 * buffer of the process's own, or no add-on) is left as it is: 0.
 */
export function releaseMappedPages(view: Uint8Array): number {
  return pagesAddon()?.release(view) ?? 0;
}
