/**
 * Milliseconds since this process started, on a monotonic clock: what `performance.now()` gives,
 * without loading node:perf_hooks (Node loads it, ten internal modules, on the first touch of the
 * `performance` global: about 5 ms of every command's start).
 */
export function sinceStart(): number {
  return process.uptime() * 1000;
}
