#!/bin/sh
// 2>/dev/null; exec node --max-semi-space-size=4 "$0" "$@"
// The installed command: the compiled CLI (built by `npm install` through the `prepare` script), run
// against this process's streams, environment and directory. CommonJS (bin/package.json), as its
// loader is: a command does not pay for Node's ES module loader.
//
// The line above is for sh, and a comment for Node: it starts Node with the flags every rnnp process
// runs with (src/core/node-flags.ts says why), which a `#!/usr/bin/env node` line cannot pass (the
// kernel gives it one argument, and not every `env` has `-S`: BusyBox's lacks it).
"use strict";
// ms since the process started, as src/core/clock.ts reads them (performance.now() would load
// node:perf_hooks).
const sinceStart = () => process.uptime() * 1000;
const started = sinceStart();

// Started without the line for sh (`node bin/rnnp.js`, or a launcher that runs a bin's .js file with
// node): the heap is sized already, on V8's defaults, but V8 takes the CLI's code cache, made under
// rnnp's flags, only while its flags are those. They are set for that (35 ms a command).
const NODE_FLAGS = ["--max-semi-space-size=4"]; // as the line above, and src/core/node-flags.ts
if (!NODE_FLAGS.every((f) => process.execArgv.includes(f)))
  require("node:v8").setFlagsFromString(NODE_FLAGS.join(" "));
const { main, marks } = require("../dist/cli/loader.cjs");
const loaded = sinceStart();

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

let settled = false;
main(process.argv.slice(2)).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (e) => {
    settled = true;
    throw e;
  },
);
// A command with nothing left to wait on that never finished (a bug) is not a success: Node's own
// code for an unsettled top-level await, which the ES module command had. (Node empties its loop
// before `beforeExit`; process.exit, as on SIGINT, skips it.)
process.on("beforeExit", () => {
  if (settled) return;
  process.stderr.write("internal error: the command stopped before it finished\n");
  process.exitCode = 13;
});
