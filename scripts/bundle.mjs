// `npm run build` step: the CLI as one CommonJS file (dist/cli/cli.cjs) with a V8 code cache
// beside it (cli.cjs.cache), which dist/cli/loader.cjs (scripts/cli-loader.cjs) loads for bin/rnnp.js.
// Node 20 resolves, reads, compiles and links ES modules one by one, and cannot cache their
// compilation: a fully cached run spent most of its time loading ~35 chunks. One script compiled
// from V8's cached bytecode skips all of that. The bundle is made from tsc's output (dist/src,
// dist/grammar), so every module keeps the path it has there: `import.meta.url` is rewritten to the
// module's file under dist/, and what modules find beside themselves (the kernels, workers,
// package.json, native add-ons) is found as before. Dynamic imports stay lazy: each verb's modules
// run only when the verb does, and TensorFlow.js and the report load only when needed.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import {
  copyFile,
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = resolve(import.meta.dirname, "..");
const dist = join(root, "dist");
export const outdir = join(dist, "cli");

/**
 * Packages left to Node: native add-ons and what they find beside them (lmdb), large packages that
 * load only when a stage computes or a rare verb runs (TensorFlow.js, the report's charts and
 * graphviz, the language server, ONNX, queues, audio, bundles). The small ones on every command's
 * path (commander, chevrotain, picocolors, csv-parse...) are bundled.
 */
const external = [
  "bun:ffi", // lmdb on Bun
  "bullmq",
  "ioredis",
  "@tensorflow/*",
  "@hpcc-js/*",
  "vega",
  "vega-lite",
  "vscode-languageserver",
  "vscode-languageserver/*",
  "vscode-languageserver-textdocument",
  "protobufjs",
  "protobufjs/*",
  "tar-stream",
  "wavefile",
  "fft.js",
  "cli-progress",
  // A UMD build whose factory requires its own files by relative paths esbuild cannot see.
  "jsonc-parser",
];

const requireHere = createRequire(import.meta.url);

/** Built-ins the bundle loads on first use (see the "lazy-built-ins" plugin). */
const LAZY_BUILT_INS =
  /^(node:)?(child_process|worker_threads|perf_hooks|zlib|readline|http|https|crypto|os)$/;
const LAZY_PREFIX = "rnnp-lazy-built-in:";

/**
 * Files of bundled packages that find their native add-on beside themselves, and the expression
 * (evaluated in the bundle) of their installed file, wherever npm placed the package. lmdb's
 * add-on finder starts from lmdb's folder. (msgpackr, bundled too, is its plain build, which has
 * no optional add-on to find: see "msgpackr-without-streams".)
 */
const placed = {
  [join("lmdb", "dist", "index.cjs")]: '__rnnpPackageFile("lmdb", "dist/index.cjs")',
};

/**
 * `__rnnpLmdbAddon(dir, find)`: lmdb's native add-on, loaded from the file its finder
 * (node-gyp-build-optional-packages) picks on a glibc system with lmdb's platform package beside
 * it: `@lmdb/lmdb-<platform>-<arch>/node.abi<Node's ABI>.glibc.node`. The finder reads package.json
 * through Node's resolver, lists four folders and asks which C library the system has: about 1.5
 * ms of every command. It still decides whenever it could choose otherwise: a local build of lmdb
 * (its build/ folder), the settings it reads, a platform package in lmdb's own node_modules (Node
 * resolves it first: npm nests it there when the one beside lmdb is another lmdb version's) or
 * lmdb not in a node_modules folder, no such file, or one that does not load, and any Node not
 * linked against glibc: its executable names no glibc loader (`/ld-linux-`, as detect-libc checks),
 * for a glibc add-on might load on musl with gcompat and fail later, at a symbol it lacks.
 */
const LMDB_ADDON = [
  "const __rnnpLmdbAddon = (dir, find) => {",
  'const { closeSync, existsSync, openSync, readSync } = require("node:fs");',
  'const glibc = () => { try { const fd = openSync(process.execPath, "r"); const head = Buffer.alloc(4096);',
  "try { readSync(fd, head, 0, head.length, 0); } finally { closeSync(fd); }",
  'return head.includes("/ld-linux-"); } catch { return false; } };',
  'const { basename, dirname, join } = require("node:path");',
  'const said = ["LMDB_PREBUILD", "PREBUILDS_ONLY", "npm_config_arch", "npm_config_platform", "LIBC"];',
  'if (said.some((v) => process.env[v] !== undefined) || existsSync(join(dir, "build"))) return find(dir);',
  'const pkg = "lmdb-" + process.platform + "-" + process.arch;',
  'if (basename(dirname(dir)) !== "node_modules" || existsSync(join(dir, "node_modules", "@lmdb", pkg))) return find(dir);',
  'const file = join(dir, "..", "@lmdb", pkg, "node.abi" + process.versions.modules + ".glibc.node");',
  'if (!existsSync(file) || process.platform !== "linux" || !glibc()) return find(dir);',
  "try { return require(file); } catch { return find(dir); } };",
].join(" ");

/**
 * lmdb's index.cjs, loading its add-on through `__rnnpLmdbAddon` (see LMDB_ADDON), and its finder
 * only if that asks for it: the finder's module asks which C library the system has as it loads.
 */
function addonFoundFirst(text) {
  const finder = "require('node-gyp-build-optional-packages')";
  const rewrites = [
    [`var loadNAPI = ${finder};`, ""],
    ["var loadNAPI__default = /*#__PURE__*/_interopDefaultLegacy(loadNAPI);", ""],
    ['loadNAPI__default["default"](dirName)', `__rnnpLmdbAddon(dirName, (dir) => ${finder}(dir))`],
    // node:os (lazy in the bundle: see LAZY_BUILT_INS) costs about 1.5 ms to load, and lmdb asks
    // it only what the process knows: os.arch() is process.arch, os.platform() process.platform,
    // and the byte order is the typed arrays'. Its temporary folder is asked for when needed.
    ["arch: node_os.arch,", "arch: () => process.arch,"],
    ["tmpdir: node_os.tmpdir,", "tmpdir: () => node_os.tmpdir(),"],
    ["os: node_os.platform(),", "os: process.platform,"],
  ];
  for (const [from, to] of rewrites) {
    if (text.split(from).length !== 2) throw new Error(`lmdb's index.cjs: expected one ${from}`);
    text = text.replace(from, to);
  }
  const endianness = "node_os.endianness()";
  if (!text.includes(endianness)) throw new Error(`lmdb's index.cjs: expected ${endianness}`);
  return text.replaceAll(
    endianness,
    '(new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? "LE" : "BE")',
  );
}

/** grammar/chevrotain.ts loads Chevrotain's one-file build with a top-level await; bundled, a plain re-export of it. */
const chevrotainBuild = join(root, "node_modules", "chevrotain", "lib", "chevrotain.mjs");
const chevrotainExports =
  "createToken, Lexer, EmbeddedActionsParser, EOF, tokenLabel, createSyntaxDiagramsCode";

/** A module of dist/ with `import.meta` pointing at its own file there, not at the chunk it lands in. */
async function located(path) {
  if (path === join(dist, "grammar", "chevrotain.js"))
    return `export { ${chevrotainExports} } from ${JSON.stringify(chevrotainBuild)};\n`;
  const text = await readFile(path, "utf8");
  if (!text.includes("import.meta")) return text;
  const url = `new URL(${JSON.stringify(relative(outdir, path).split("\\").join("/"))}, import.meta.url)`;
  const rewritten = text
    .replaceAll("import.meta.url", `${url}.href`)
    .replaceAll("import.meta.filename", `__rnnpFileOf(${url})`)
    .replaceAll("import.meta.dirname", `__rnnpDirOf(${url})`);
  if (/import\.meta(?!\.(url|filename|dirname)\b)/.test(text))
    throw new Error(`${relative(root, path)}: an import.meta use the bundle cannot place`);
  return rewritten;
}

/**
 * A digest of what goes into the bundle: tsc's output and the installed packages (the lockfile),
 * and this script. The CLI keys what depends on its exact code (checked pipelines) on it.
 */
async function buildId() {
  const hash = createHash("sha256");
  const files = [join(root, "package.json"), join(root, "package-lock.json"), import.meta.filename];
  for (const sub of ["src", "grammar"])
    for (const f of await readdir(join(dist, sub), { recursive: true }))
      if (f.endsWith(".js")) files.push(join(dist, sub, f));
  for (const f of files.sort()) hash.update(`${relative(root, f)}\0`).update(await readFile(f));
  return hash.digest("hex");
}

/** The plugin API (the kinds registry, defineKind, the parameter schema): dist/cli/NAME.js. */
const pluginApi = {
  registry: join(dist, "src", "kinds", "registry.js"),
  kind: join(dist, "src", "stages", "kind.js"),
  schema: join(dist, "src", "stages", "schema.js"),
};

/**
 * The bundle's entry: the CLI, and the plugin API for code preloaded into the installed command
 * (`node --import`, as the tests' gate kind), loaded on demand and the very modules the CLI uses.
 */
const entry = [
  `export { main, marks } from ${JSON.stringify(join(dist, "src", "cli", "main.js"))};`,
  "export const plugin = {",
  ...Object.entries(pluginApi).map(
    ([name, path]) => `  ${name}: () => import(${JSON.stringify(path)}),`,
  ),
  "};",
].join("\n");

/**
 * Files that modules read from beside themselves and the transpile step does not emit (ONNX's
 * onnx.proto): copied from src/ to the same place in dist/src, the folder the bundle's
 * `import.meta` gives those modules (and what package.json's "files" ships).
 */
const besideModules = [".proto"];

async function copyBesideModules() {
  for (const f of await readdir(join(root, "src"), { recursive: true }))
    if (besideModules.some((ext) => f.endsWith(ext)))
      await cp(join(root, "src", f), join(dist, "src", f));
}

/**
 * The bundle is made in a staging folder beside dist/cli (so every module's path relative to it is
 * the same), then each file is moved over its counterpart: a command started during a build finds
 * either file, never none (dist/cli removed and rewritten made such a command fail). A command that
 * pairs a new bundle with the old code cache, or the reverse, compiles from source: the loader
 * checks the cache against the bundle's bytes.
 */
export async function bundle() {
  // Also what an interrupted build left (npm pack would ship it).
  for (const f of await readdir(dist).catch(() => []))
    if (f.startsWith(".cli-staging-")) await rm(join(dist, f), { recursive: true, force: true });
  const staging = join(dist, `.cli-staging-${process.pid}`);
  try {
    const result = await bundleInto(staging);
    await install(staging, outdir);
    settleCodeCache(await nodeFlags());
    return result;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The installed CLI takes its code cache (checked by digest: moving the bundle into place changed
 * its change time, part of the identity the cache's header records). The loader records the
 * installed file's identity once its change time is a few seconds old (scripts/cli-loader.cjs):
 * the first command after that, not this one, spares the next ones the digest.
 */
function settleCodeCache(flags) {
  const loader = JSON.stringify(join(outdir, "loader.cjs"));
  const r = spawnSync(
    process.execPath,
    [...flags, "-e", `if (!require(${loader}).codeCacheUsed) process.exitCode = 1;`],
    { encoding: "utf8", env: withoutRnnpVariables(process.env) },
  );
  if (r.status !== 0)
    throw new Error(`dist/cli: the installed CLI did not take its code cache: ${r.stderr}`);
}

/** Moves each file of STAGING over TARGET's, then removes what the new build no longer has. */
export async function install(staging, target) {
  await mkdir(target, { recursive: true });
  const files = await readdir(staging);
  // The code cache last: a command started in between pairs the new bundle with the old cache,
  // which the loader refuses, rather than the reverse order's equally refused but slower pair.
  files.sort((a, b) => Number(a.endsWith(".cache")) - Number(b.endsWith(".cache")));
  for (const f of files) await rename(join(staging, f), join(target, f));
  for (const f of await readdir(target))
    if (!files.includes(f)) await rm(join(target, f), { recursive: true, force: true });
}

async function bundleInto(staging) {
  await copyBesideModules();
  const result = await build({
    metafile: true,
    define: {
      __RNNP_BUILD__: JSON.stringify(await buildId()),
      __RNNP_VERSION__: JSON.stringify(
        JSON.parse(await readFile(join(root, "package.json"), "utf8")).version,
      ),
      // The bundle's own URL (its banner): `located` rewrote each module's to a URL relative to it.
      "import.meta.url": "__rnnpUrl",
    },
    stdin: { contents: entry, resolveDir: root, sourcefile: "rnnp-cli-entry.js", loader: "js" },
    outfile: join(staging, "cli.cjs"),
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    // ASCII only (\u escapes), so the loader decodes the file as latin1, four times faster than UTF-8.
    charset: "ascii",
    // Every command reads the bundle and makes a string of it before compiling it from the code
    // cache: without its white space and comments it is 1.3 MB, not 1.85 (0.5-1 ms of each
    // command). Names are kept (errors name their class), and the source map still maps it.
    minifyWhitespace: true,
    external,
    sourcemap: "linked",
    logLevel: "warning",
    // ES modules are strict, so the bundle is too; the helpers place a module's file and folder.
    // The file is the function the loader calls (CommonJS's wrapper, and `__rnnpImport`): compiled
    // as it is read, with no copy of 1.8 MB of text to wrap it first.
    footer: { js: "});" },
    banner: {
      js: [
        "(function (exports, require, module, __filename, __dirname, __rnnpImport) {",
        '"use strict";',
        'const { fileURLToPath: __rnnpFileOf, pathToFileURL: __rnnpToUrl } = require("node:url");',
        'const { dirname: __rnnpDirname } = require("node:path");',
        "const __rnnpUrl = __rnnpToUrl(__filename).href;",
        "const __rnnpDirOf = (u) => __rnnpDirname(__rnnpFileOf(u));",
        // The first node_modules folder, up from the bundle, that holds the package: where Node's
        // own resolution finds it, without reading the package's "exports" (which loads Node's ES
        // module resolver and took 3-7 ms). FILE is the one its exports give to `require`. Its real
        // path, as require.resolve gives: in a linked install (pnpm, npm's linked strategy) the
        // package's own dependencies are found only from where it really is.
        "const __rnnpPlaced = new Map();",
        "const __rnnpPackageFile = (name, file) => { let f = __rnnpPlaced.get(name); if (f) return f;",
        'const { existsSync, realpathSync } = require("node:fs"); f = require.resolve.paths(name)',
        '?.map((d) => d + "/" + name + "/" + file).find((p) => existsSync(p));',
        "f = f ? realpathSync(f) : require.resolve(name); __rnnpPlaced.set(name, f); return f; };",
        "const __rnnpLazy = (name) => { let real; const load = () => (real ??= require(name));",
        "return new Proxy({}, { get: (_, k) => load()[k], has: (_, k) => k in load(),",
        "ownKeys: () => Reflect.ownKeys(load()), getOwnPropertyDescriptor: (_, k) => {",
        "const d = Reflect.getOwnPropertyDescriptor(load(), k); return d && { ...d, configurable: true }; } }); };",
        LMDB_ADDON,
      ].join(" "),
    },
    plugins: [
      {
        // lmdb (its CommonJS build, one file, rather than its ES entry's ~20 modules), msgpackr and
        // the native-module finder are bundled, so their compilation comes from the code cache too.
        // They place their native add-ons by their own file's name: there `__filename` and
        // `__dirname` are the installed package's, resolved where the bundle runs.
        name: "lmdb-in-place",
        setup(b) {
          b.onResolve({ filter: /^lmdb$/ }, () => ({ path: requireHere.resolve("lmdb") }));
          b.onLoad({ filter: /\.c?js$/ }, async (a) => {
            const place = Object.entries(placed).find(([tail]) => a.path.endsWith(tail));
            if (!place) return undefined;
            const text = await readFile(a.path, "utf8");
            const [filename, dirname] = [`(${place[1]})`, `__rnnpDirname(${place[1]})`];
            return {
              contents: addonFoundFirst(
                text.replaceAll("__filename", filename).replaceAll("__dirname", dirname),
              ),
              loader: "js",
            };
          });
        },
      },
      {
        // msgpackr's Node entry adds stream classes (`class PackrStream extends stream.Transform`),
        // which load Node's streams (about 15 modules) as the bundle starts, and its optional
        // native string extractor (finding it cost about 6 ms; it only speeds up decoding large
        // values, and the cache's msgpack tables hold small ones). lmdb uses its Encoder only:
        // msgpackr's plain build is the same encoder and decoder without either.
        name: "msgpackr-without-streams",
        setup(b) {
          b.onResolve({ filter: /^msgpackr$/ }, () => ({
            path: join(dirname(requireHere.resolve("msgpackr")), "index.js"),
          }));
        },
      },
      {
        // picocolors decides its default colours as it loads, from `process.stdout.isTTY`: that
        // makes Node build its stdout stream (net or tty, Node's streams: about 5 ms), which a
        // command writing to a pipe or file does without (src/cli/io.ts, processStream). rnnp
        // uses only `createColors(enabled)`, deciding per stream; the default set is never used.
        name: "picocolors-without-stdout",
        setup(b) {
          b.onLoad({ filter: /[\\/]picocolors[\\/]picocolors\.js$/ }, async (a) => {
            const text = await readFile(a.path, "utf8");
            const asked = '((p.stdout || {}).isTTY && env.TERM !== "dumb")';
            if (text.split(asked).length !== 2)
              throw new Error(`picocolors.js: expected one ${asked}`);
            return { contents: text.replace(asked, "false"), loader: "js" };
          });
        },
      },
      {
        // Built-in modules that take milliseconds to load and that a command may never use (a
        // fully cached run starts no worker, spawns nothing, compresses nothing): required on the
        // first touch of one of their exports instead of when the bundle starts (`__rnnpLazy`, in
        // the banner, after `lazyBuiltIns` below). Commander, for one, requires
        // node:child_process up front for executable subcommands, which rnnp has none of.
        name: "lazy-built-ins",
        setup(b) {
          b.onResolve({ filter: LAZY_BUILT_INS }, (a) => ({
            path: `${LAZY_PREFIX}${a.path.replace(/^node:/, "")}`,
            external: true,
          }));
        },
      },
      {
        name: "dist-modules-in-place",
        setup(b) {
          b.onLoad({ filter: /[\\/]dist[\\/](src|grammar)[\\/].*\.js$/ }, async (a) => ({
            contents: await located(a.path),
            loader: "js",
            resolveDir: dirname(a.path),
          }));
        },
      },
    ],
  });
  const cli = join(staging, "cli.cjs");
  await writeFile(cli, lazyBuiltIns(importsThroughLoader(asciiOnly(await readFile(cli, "utf8")))));
  await copyFile(join(root, "scripts", "cli-loader.cjs"), join(staging, "loader.cjs"));
  await writeFile(
    join(staging, "main.js"),
    "// The ES module face of dist/cli/loader.cjs (scripts/bundle.mjs): the same instance.\n" +
      'import loader from "./loader.cjs";\n' +
      "export const { main, marks, plugin, codeCacheUsed, codeCacheCheck, codeCache } = loader;\n",
  );
  await reuseCodeCache(staging);
  // In a fresh process, as the installed command loads the bundle: the plugin API's modules, and
  // the code cache of a cached run.
  const child = spawnSync(
    process.execPath,
    [...(await nodeFlags()), import.meta.filename, "--finish", staging],
    {
      stdio: "inherit",
      env: withoutRnnpVariables(process.env),
    },
  );
  if (child.status !== 0)
    throw new Error(`${import.meta.filename} --finish exited ${child.status}`);
  return result;
}

/**
 * Each `require` of a lazy built-in (external to the bundle under a name of ours) becomes
 * `__rnnpLazy("node:NAME")`: a stand-in that requires the module on first use and forwards every
 * access and reflection to it. Imports of ours are named imports, which esbuild reads as properties
 * of the required object at each use, so nothing loads before a use.
 */
function lazyBuiltIns(text) {
  const pattern = new RegExp(`\\brequire\\("${LAZY_PREFIX}([a-z_]+)"\\)`, "g");
  const count = text.match(pattern)?.length ?? 0;
  if (count === 0) throw new Error("dist/cli/cli.cjs: no lazy built-in found (the plugin broke?)");
  return text.replace(pattern, '__rnnpLazy("node:$1")');
}

/**
 * The bundle in ASCII, so that the loader decodes it as latin1 (a quarter of UTF-8's time) and V8
 * keeps it as a one-byte string. esbuild escapes strings but leaves the odd comment and regular
 * expression (tokenize's apostrophe) as written; there a `\uXXXX` escape means the same character,
 * unless it would follow a backslash (or is outside the BMP): then the build stops.
 */
function asciiOnly(text) {
  return text.replace(/(\\?)([^\p{ASCII}])/gu, (_, slash, c) => {
    const code = c.charCodeAt(0);
    if (slash || (code >= 0xd800 && code < 0xe000))
      throw new Error(`dist/cli/cli.cjs: cannot escape ${JSON.stringify(slash + c)} in ASCII`);
    return `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * The bundle's `import()` of the packages left outside it, through the loader's (`__rnnpImport`,
 * a parameter of the bundle's wrapper): a function compiled from V8's code cache has lost the
 * callback Node 20 needs for `import()` (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), while an ES
 * module's `import()` always works. The loader sits beside the bundle, so names resolve the same.
 */
function importsThroughLoader(text) {
  const all = text.match(/\bimport\(/g)?.length ?? 0;
  const literal = /\bimport\(("(?:node:[a-z/_]+|@?[a-z0-9][\w./@-]*)")\)/g;
  const rewritten = text.replace(literal, "__rnnpImport($1)");
  const left = rewritten.match(/\bimport\(/g)?.length ?? 0;
  if (left !== 0 || all === 0)
    throw new Error(`dist/cli/cli.cjs: ${left} of ${all} import() calls are not of a package name`);
  return rewritten;
}

/**
 * The flags every rnnp process runs Node with (src/core/node-flags.ts, as step 1 of the build
 * transpiled it): the code cache is made and checked under them, as V8 takes a code cache only
 * under the flags it was made with.
 */
async function nodeFlags() {
  const url = pathToFileURL(join(dist, "src", "core", "node-flags.js")).href;
  return (await import(url)).NODE_FLAGS;
}

/** The build does not depend on the caller's RNNP_* settings (cache folder, timing...). */
function withoutRnnpVariables(env) {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("RNNP_")));
}

/**
 * The code cache of the installed build, offered to the new one: the loader accepts it only when
 * made from the very same bytes by this V8, and then the warm-up (a few seconds of every build,
 * and of every `npm test`) is not needed.
 */
async function reuseCodeCache(staging) {
  const [now, before] = [join(staging, "cli.cjs"), join(outdir, "cli.cjs")];
  try {
    if (!(await readFile(now)).equals(await readFile(before))) return;
    await copyFile(`${before}.cache`, `${now}.cache`);
  } catch {}
}

/** dist/cli/NAME.js for each module of the plugin API: its exports, from the bundle's instance. */
async function writePluginModules(cli, staging) {
  for (const [name, load] of Object.entries(cli.plugin)) {
    const names = Object.keys(await load()).sort();
    await writeFile(
      join(staging, `${name}.js`),
      `// The plugin API's ${name} module (scripts/bundle.mjs): the instance the CLI uses.\n` +
        `import { plugin } from "./main.js";\n` +
        `export const { ${names.join(", ")} } = await plugin.${name}();\n`,
    );
  }
}

/**
 * Compiles what a fully cached `run` and `status` run, by running them on a small pipeline in a
 * temporary folder, so that the code cache holds those functions' bytecode, not only the top level.
 * The first run, which parses and computes, is another process's: its functions would only make
 * the cache larger, and a larger cache takes longer to read on every command.
 */
async function warmUp(cli, staging) {
  const dir = await mkdtemp(join(tmpdir(), "rnnp-build-"));
  try {
    const rows = Array.from({ length: 20 }, (_, i) => `n${i},${i % 2 ? "a" : "b"}`);
    await writeFile(join(dir, "d.csv"), `name,label\n${rows.join("\n")}\n`);
    await writeFile(
      join(dir, "p.rnnp"),
      [
        "pipeline warm {",
        '  stage raw = load.csv(path: "d.csv", text: "name", label: "label")',
        "  stage kept = clean(raw, dropMissing: true)",
        "  stage h = head(kept, n: 5)",
        "}",
        "",
      ].join("\n"),
    );
    const firstRun = `require(${JSON.stringify(join(staging, "loader.cjs"))}).main(["run", "p.rnnp"]).then((c) => { process.exitCode = c; });`;
    const fill = spawnSync(process.execPath, [...(await nodeFlags()), "-e", firstRun], {
      cwd: dir,
      encoding: "utf8",
      env: withoutRnnpVariables(process.env),
    });
    if (fill.status !== 0) throw new Error(`the warm-up's first run failed: ${fill.stderr}`);
    const sink = { write: () => true };
    const io = { stdout: sink, stderr: sink, stdin: process.stdin, env: {}, cwd: dir };
    for (const verb of ["run", "status"]) {
      const code = await cli.main([verb, "p.rnnp"], io);
      if (code !== 0) throw new Error(`the warm-up's \`rnnp ${verb}\` exited ${code}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function finish(staging) {
  // The code cache keeps the name its script was compiled under, which stack traces show: the
  // warm-up compiles the staged bundle under the name it will have (see scripts/cli-loader.cjs).
  globalThis[Symbol.for("rnnp.cliScriptName")] = join(outdir, "cli.cjs");
  const cli = await import(join(staging, "main.js"));
  await writePluginModules(cli, staging);
  if (cli.codeCacheUsed) return; // the installed build's, for the same bytes (reuseCodeCache)
  await warmUp(cli, staging);
  await writeFile(join(staging, "cli.cjs.cache"), cli.codeCache());
}

if (process.argv[1] === import.meta.filename) {
  if (process.argv[2] === "--finish") await finish(process.argv[3]);
  else await bundle();
}
