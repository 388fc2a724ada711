import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { StageKey } from "../core/digest.js";
import type { CacheStore, Lease } from "../cache/store.js";

/**
 * One computation per key across processes sharing a cache: take the key's lease, or wait while
 * another live process holds it and use its result. A holder renews its lease while it works; a
 * holder that died (killed, crashed) is detected by its pid on this host, or by expiry elsewhere.
 */
const TTL_MS = 120_000;
const POLL_MS = 150;

export type Leased<T> = { done: true } | { done: false; value: T };

export async function withLease<T>(
  store: CacheStore,
  key: StageKey,
  opts: { isDone(): boolean; onWait(holder: Lease): void },
  work: () => Promise<T>,
): Promise<Leased<T>> {
  const me = { pid: process.pid, host: hostname(), token: randomUUID() };
  let announced = false;
  for (;;) {
    if (opts.isDone()) return { done: true };
    const holder = store.tryLease(key, { ...me, expiresAt: Date.now() + TTL_MS });
    if (!holder) break;
    if (!announced) opts.onWait(holder);
    announced = true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const renew = setInterval(
    () => store.renewLease(key, { ...me, expiresAt: Date.now() + TTL_MS }),
    TTL_MS / 4,
  );
  renew.unref();
  try {
    // The previous holder may have committed just before letting go.
    if (opts.isDone()) return { done: true };
    return { done: false, value: await work() };
  } finally {
    clearInterval(renew);
    store.releaseLease(key, me.token);
  }
}
