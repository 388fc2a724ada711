#!/usr/bin/env node
// The installed command: the compiled CLI (built by `npm install` through the `prepare` script), run
// against this process's streams, environment and directory.
import { main } from "../dist/src/cli/main.js";

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
