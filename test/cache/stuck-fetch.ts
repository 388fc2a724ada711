// A process asking a remote cache for a record while every fetch hangs until aborted, as Node's
// fetch did once in ten runs when the server stopped in the middle of a request (test/cli/remote.test.ts):
// prints what getRecord gave. With only AbortSignal.timeout's timer (which does not keep a process
// alive), the process ended with the request unsettled, before printing.
import { RemoteCache } from "../../src/cache/remote.js";
import type { StageKey } from "../../src/core/digest.js";

// Hangs until aborted, as a real fetch does: only the abort settles it.
globalThis.fetch = (_url, init) =>
  new Promise<Response>((_, reject) =>
    init?.signal?.addEventListener("abort", () => reject(init.signal!.reason)),
  );
const warnings: string[] = [];
const remote = new RemoteCache({
  url: "http://127.0.0.1:9/cache",
  mode: "read",
  timeoutMs: 200,
  retries: 0,
  warn: (m) => warnings.push(m),
});
const record = await remote.getRecord("a".repeat(64) as StageKey);
process.stdout.write(JSON.stringify({ record: record ?? null, warnings }));
