#!/usr/bin/env node
// The installed command: the compiled CLI (built by `npm install` through the `prepare` script), run
// against this process's streams, environment and directory. CommonJS (bin/package.json), as its
// loader is: a command does not pay for Node's ES module loader.
"use strict";
// ms since the process started, as src/core/clock.ts reads them (performance.now() would load
// node:perf_hooks).
const sinceStart = () => process.uptime() * 1000;
const started = sinceStart();
const { main, marks } = require("../dist/cli/loader.cjs");
const loaded = sinceStart();

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

// RNNP_TIMING=1: where this process's time went, as one JSON line on stderr (ms since it started).
if (process.env.RNNP_TIMING)
  process.on("exit", () => {
    const moments = [
      { name: "node started", at: started },
      { name: "cli loaded", at: loaded },
      ...marks(),
      { name: "exit", at: sinceStart() },
    ];
    process.stderr.write(`rnnp-timing ${JSON.stringify(moments)}\n`);
  });

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
