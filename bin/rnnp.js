#!/usr/bin/env node
// The installed command: the compiled CLI (built by `npm install` through the `prepare` script), run
// against this process's streams, environment and directory.
const started = performance.now();
const { main, marks } = await import("../dist/cli/main.js");
const loaded = performance.now();

process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0); // `rnnp ... | head` is fine
  throw e;
});
process.on("SIGINT", () => {
  // Every commit is one synchronous LMDB transaction, so stopping here never leaves a half entry.
  process.stderr.write(
    "\ninterrupted: stages that finished are cached; nothing else was written\n",
  );
  process.exit(130);
});

process.exitCode = await main(process.argv.slice(2));

// RNNP_TIMING=1: where this process's time went, as one JSON line on stderr (ms since it started).
if (process.env.RNNP_TIMING)
  process.on("exit", () => {
    const moments = [
      { name: "node started", at: started },
      { name: "cli loaded", at: loaded },
      ...marks(),
      { name: "exit", at: performance.now() },
    ];
    process.stderr.write(`rnnp-timing ${JSON.stringify(moments)}\n`);
  });
