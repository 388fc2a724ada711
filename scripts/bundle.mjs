// `npm run build` step: the CLI as a few bundled files (dist/cli/main.js and its lazy chunks), which
// bin/rnnp.js loads. Node 20 resolves, reads and links ES modules one by one; rnnp's ~200 modules
// and their packages cost more to find than to run, so a fully cached run spent most of its time
// loading. The bundle is made from tsc's output (dist/src, dist/grammar), so every module keeps
// the path it has there: `import.meta.url` is rewritten to the module's file under dist/, and what
// modules find beside themselves (the kernels, workers, package.json, native add-ons) is found as
// before. Dynamic imports stay lazy: each verb's module, and TensorFlow.js and the report, load only
// when needed.
import { createHash } from "node:crypto";
import { cp, readdir, readFile, rm } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
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
  "lmdb",
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

/**
 * Files that modules read from beside themselves and tsc does not emit (ONNX's onnx.proto): copied
 * from src/ to the same place in dist/src, the folder the bundle's `import.meta` gives those modules
 * (and what package.json's "files" ships).
 */
const besideModules = [".proto"];

async function copyBesideModules() {
  for (const f of await readdir(join(root, "src"), { recursive: true }))
    if (besideModules.some((ext) => f.endsWith(ext)))
      await cp(join(root, "src", f), join(dist, "src", f));
}

export async function bundle() {
  await rm(outdir, { recursive: true, force: true });
  await copyBesideModules();
  await build({
    define: { __RNNP_BUILD__: JSON.stringify(await buildId()) },
    // main: what bin/rnnp.js runs. The others are the plugin API (the kinds registry, defineKind,
    // the parameter schema), for code preloaded into the installed command (`node --import`, as
    // the tests' gate kind): chunks are shared, so they are the very modules the CLI uses.
    entryPoints: {
      main: join(dist, "src", "cli", "main.js"),
      registry: join(dist, "src", "kinds", "registry.js"),
      kind: join(dist, "src", "stages", "kind.js"),
      schema: join(dist, "src", "stages", "schema.js"),
    },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external,
    sourcemap: "linked",
    logLevel: "warning",
    // Bundled CommonJS packages call require(); the helpers place a module's file and folder.
    banner: {
      js: [
        'import { createRequire as __rnnpRequire } from "node:module";',
        'import { fileURLToPath as __rnnpFileOf } from "node:url";',
        'import { dirname as __rnnpDirname } from "node:path";',
        "const require = __rnnpRequire(import.meta.url);",
        "const __rnnpDirOf = (u) => __rnnpDirname(__rnnpFileOf(u));",
      ].join(" "),
    },
    plugins: [
      {
        // lmdb's ES entry is a tree of ~20 modules (with msgpackr's); its CommonJS build, the same
        // code in one file, loads in half the time on every command that opens the cache.
        name: "lmdb-as-commonjs",
        setup(b) {
          b.onResolve({ filter: /^lmdb$/ }, (a) =>
            a.namespace === "rnnp" ? undefined : { path: "lmdb", namespace: "rnnp" },
          );
          b.onLoad({ filter: /^lmdb$/, namespace: "rnnp" }, () => ({
            contents: 'export const { open } = require("lmdb");\n',
            loader: "js",
          }));
        },
      },
      {
        // Commander requires node:child_process up front for executable subcommands, which rnnp
        // has none of; loading it (with net and streams) costs every command several ms.
        name: "lazy-child-process-in-commander",
        setup(b) {
          b.onResolve({ filter: /^(node:)?child_process$/ }, (a) =>
            /[\\/]node_modules[\\/]commander[\\/]/.test(a.importer)
              ? { path: "lazy-child-process", namespace: "rnnp" }
              : undefined,
          );
          b.onLoad({ filter: /^lazy-child-process$/, namespace: "rnnp" }, () => ({
            contents:
              'let m; const load = () => (m ??= require("node:child_process"));\n' +
              "module.exports = new Proxy({}, { get: (_, k) => load()[k] });\n",
            loader: "js",
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
}

if (process.argv[1] === import.meta.filename) await bundle();
