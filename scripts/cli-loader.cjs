// dist/cli/loader.cjs (copied there by scripts/bundle.mjs): loads the CLI, one CommonJS file
// (dist/cli/cli.cjs), compiled with the V8 code cache that `npm run build` made beside it
// (dist/cli/cli.cjs.cache). Node 20 can neither cache the compilation of ES modules nor skip
// resolving and linking them one by one; a script compiled through `vm.Script` with `cachedData`
// starts from bytecode instead of source. The cache is used only when it was made from these very
// bytes (a SHA-256 in its header) and when V8 accepts it (same V8, same flags); otherwise the
// bundle is compiled from its source, as any script: slower, never different.
//
// A CommonJS module, as bin/rnnp.js is: Node 20 sets up its ES module loader (resolution, linking,
// a synthetic module per built-in imported) only for ES modules, and a command need not pay for it.
// dist/cli/main.js is the ES module face of this one instance, for the plugin API.
"use strict";
const { createHash } = require("node:crypto");
const { readFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { join } = require("node:path");
const { Script } = require("node:vm");

const file = join(__dirname, "cli.cjs");
/** `rnnp-code-cache <sha256 of cli.cjs>\n`, then V8's data. */
const HEADER = "rnnp-code-cache ";
const HEADER_BYTES = HEADER.length + 64 + 1;

const bytes = readFileSync(file);
const digest = createHash("sha256").update(bytes).digest("hex");

/** V8's cached data for exactly these bytes, or undefined (none, or made from other bytes). */
function cachedData() {
  let cache;
  try {
    cache = readFileSync(`${file}.cache`);
  } catch {
    return undefined;
  }
  const header = cache.subarray(0, HEADER_BYTES).toString("latin1");
  return header === `${HEADER}${digest}\n` ? cache.subarray(HEADER_BYTES) : undefined;
}

// The bundle is one function expression: CommonJS's wrapper, and `__rnnpImport` (the bundle's
// `import()` of packages left outside it). The build writes it so, sparing a copy of its text here.
const wrapped = bytes.latin1Slice();
// The build compiles the bundle in a staging folder under the name it is installed under: a code
// cache keeps the name it was made with, and stack traces show it.
const filename = globalThis[Symbol.for("rnnp.cliScriptName")] ?? file;
const script = new Script(wrapped, { filename, cachedData: cachedData() });
const cli = { exports: {} };
script.runInThisContext()(
  cli.exports,
  createRequire(file),
  cli,
  file,
  __dirname,
  (specifier) => import(specifier),
);

module.exports = {
  main: cli.exports.main,
  marks: cli.exports.marks,
  plugin: cli.exports.plugin,
  /** Whether V8 used the code cache (false: compiled from source). */
  codeCacheUsed: script.cachedDataRejected === false,
  /** The code cache of what this process has compiled so far, with its header (the build writes it). */
  codeCache: () =>
    Buffer.concat([Buffer.from(`${HEADER}${digest}\n`, "latin1"), script.createCachedData()]),
};
