// dist/cli/loader.cjs (copied there by scripts/bundle.mjs): loads the CLI, one CommonJS file
// (dist/cli/cli.cjs), compiled with the V8 code cache that `npm run build` made beside it
// (dist/cli/cli.cjs.cache). Node 20 can neither cache the compilation of ES modules nor skip
// resolving and linking them one by one; a script compiled through `vm.Script` with `cachedData`
// starts from bytecode instead of source. The cache is used only when it was made from these very
// bytes (a SHA-256 in its header, or the unchanged file it was checked against: see cachedData)
// and when V8 accepts it (same V8, same flags); otherwise the bundle is compiled from its source,
// as any script: slower, never different.
//
// A CommonJS module, as bin/rnnp.js is: Node 20 sets up its ES module loader (resolution, linking,
// a synthetic module per built-in imported) only for ES modules, and a command need not pay for it.
// dist/cli/main.js is the ES module face of this one instance, for the plugin API.
"use strict";
const {
  closeSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} = require("node:fs");
const { createRequire } = require("node:module");
const { join } = require("node:path");
const { Script } = require("node:vm");

const file = join(__dirname, "cli.cjs");
/**
 * `rnnp-code-cache <sha256 of cli.cjs> <identity of cli.cjs>\n`, then V8's data. The identity
 * (device, inode, size, and modification and change times in nanoseconds) is that of the file
 * the cache was made for or last checked against.
 */
const HEADER = "rnnp-code-cache ";

/**
 * How long ago a file must have last changed for its identity to vouch for its bytes: file times
 * come from a clock of some granularity (a clock tick; a second on ext3, ext4 with 128-byte inodes,
 * HFS+; two on FAT), and a write within the same step as the last leaves them as they were.
 */
const SETTLED_NS = 2_000_000_000n;

// The bundle and its identity from one descriptor, so that both describe the same file.
const fd = openSync(file, "r");
let bytes;
/** The bundle's identity, or undefined when it cannot vouch for the bytes read (see settled). */
let identity;
try {
  const checked = BigInt(Date.now()) * 1_000_000n;
  const before = fstatSync(fd, { bigint: true });
  bytes = readFileSync(fd);
  identity = settled(checked, before, fstatSync(fd, { bigint: true }), bytes.length);
} finally {
  closeSync(fd);
}

/**
 * `dev:ino:size:mtimeNs:ctimeNs` of the bundle, if unchanged while it was read (another process
 * may write it in place: cp) and last changed SETTLED_NS before CHECKED, so that any later write
 * moves its change time.
 */
function settled(checked, before, after, length) {
  const id = (s) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  if (id(before) !== id(after) || before.size !== BigInt(length)) return undefined;
  return checked - before.ctimeNs >= SETTLED_NS ? id(before) : undefined;
}

/** The SHA-256 of the bundle, computed only when needed (about 1 ms for the 1.3 MB bundle). */
let digestMemo;
const digest = () => {
  digestMemo ??= require("node:crypto").createHash("sha256").update(bytes).digest("hex");
  return digestMemo;
};

/** How the cache was found to match (or not): "identity", "digest", or why it was not used. */
let check = "none";

/**
 * V8's cached data for exactly these bytes, or undefined (none, or made from other bytes). A
 * file's change time moves on every write to it (once it is older than the file system's time
 * step: see settled) and cannot be set back by user tools, so a bundle with the identity the
 * header records has not changed since: it is trusted without reading the
 * bundle through SHA-256. A copied or reinstalled bundle (another inode)
 * is checked by its digest, and the header then takes its identity for the next command.
 */
function cachedData() {
  let cache;
  try {
    cache = readFileSync(`${file}.cache`);
  } catch {
    check = "no cache";
    return undefined;
  }
  const end = cache.indexOf(0x0a);
  const fields = end < 0 ? [] : cache.subarray(0, end).toString("latin1").split(" ");
  if (fields.length !== 3 || `${fields[0]} ` !== HEADER) {
    check = "malformed";
    return undefined;
  }
  const data = cache.subarray(end + 1);
  if (identity !== undefined && fields[2] === identity) {
    check = "identity";
    return data;
  }
  if (fields[1] !== digest()) {
    check = "other bytes";
    return undefined;
  }
  check = "digest";
  return data;
}

/**
 * Rewrites the cache's header with the bundle's identity (atomically: another command may read it
 * meanwhile). An installation this user cannot write keeps checking by digest.
 */
function remember(data) {
  const temp = `${file}.cache.${process.pid}`;
  try {
    writeFileSync(temp, Buffer.concat([header(), data]));
    renameSync(temp, `${file}.cache`);
  } catch {
    try {
      unlinkSync(temp);
    } catch {}
  }
}

// "-": no identity to record (a bundle that changed recently or while it was read).
const header = () => Buffer.from(`${HEADER}${digest()} ${identity ?? "-"}\n`, "latin1");

// The bundle is one function expression: CommonJS's wrapper, and `__rnnpImport` (the bundle's
// `import()` of packages left outside it). The build writes it so, sparing a copy of its text here.
const wrapped = bytes.latin1Slice();
// The build compiles the bundle in a staging folder under the name it is installed under: a code
// cache keeps the name it was made with, and stack traces show it.
const filename = globalThis[Symbol.for("rnnp.cliScriptName")] ?? file;
const data = cachedData();
const script = new Script(wrapped, { filename, cachedData: data });
if (check === "digest" && identity !== undefined && script.cachedDataRejected === false)
  remember(data);
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
  /** How the cache was matched to the bundle: "identity", "digest", or why it was not used. */
  codeCacheCheck: check,
  /** The code cache of what this process has compiled so far, with its header (the build writes it). */
  codeCache: () => Buffer.concat([header(), script.createCachedData()]),
};
