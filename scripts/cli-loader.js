// dist/cli/main.js (copied here by scripts/bundle.mjs): loads the CLI, one CommonJS file
// (dist/cli/cli.cjs), compiled with the V8 code cache that `npm run build` made beside it
// (dist/cli/cli.cjs.cache). Node 20 can neither cache the compilation of ES modules nor skip
// resolving and linking them one by one; a script compiled through `vm.Script` with `cachedData`
// starts from bytecode instead of source. The cache is used only when it was made from these very
// bytes (a SHA-256 in its header) and when V8 accepts it (same V8, same flags); otherwise the
// bundle is compiled from its source, as any script: slower, never different.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";

const file = fileURLToPath(new URL("cli.cjs", import.meta.url));
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

/** CommonJS's wrapper, and `__rnnpImport`: the bundle's `import()` of packages left outside it. */
const wrapped = `(function (exports, require, module, __filename, __dirname, __rnnpImport) { ${bytes.latin1Slice()}\n});`;
const script = new Script(wrapped, { filename: file, cachedData: cachedData() });
const module = { exports: {} };
script.runInThisContext()(
  module.exports,
  createRequire(file),
  module,
  file,
  fileURLToPath(new URL(".", import.meta.url)),
  (specifier) => import(specifier),
);

export const { main, marks, plugin } = module.exports;

/** Whether V8 used the code cache (false: compiled from source). */
export const codeCacheUsed = script.cachedDataRejected === false;

/** The code cache of what this process has compiled so far, with its header (the build writes it). */
export function codeCache() {
  return Buffer.concat([Buffer.from(`${HEADER}${digest}\n`, "latin1"), script.createCachedData()]);
}
