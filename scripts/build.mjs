// `npm run build` (and so `npm install` and `npm test`): dist/ from the sources, in four steps.
//
//   1. transpile   src/ and grammar/ to dist/ with esbuild, one module per file as tsc would emit
//                  them. Types are not checked here: `npm run typecheck` and `npm test` run tsc
//                  once over everything (sources, tests, bench); emitting with tsc too checked the
//                  sources twice per `npm test` (about 20 s of CPU of the 2-core machine's budget).
//                  tsconfig's `isolatedModules` guarantees a file transpiles on its own.
//   2. bundle      the CLI's esbuild bundle (scripts/bundle.mjs), from step 1's output.
//   3. kernels     the AssemblyScript kernels to dist/kernels/rnn.wasm, skipped when the wasm on
//                  disk was built from the same sources, compiler and options (a stamp beside it).
//   4. native      the native add-on (native/install.js: make is incremental; never fails).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { bundle } from "./bundle.mjs";

const root = resolve(import.meta.dirname, "..");
const dist = join(root, "dist");

await transpile();
await bundle();
buildKernels();
run(process.execPath, [join(root, "native", "install.js")]);

/** Every module of src/ and grammar/ (not the grammar's specs) to dist/, with source maps. */
async function transpile() {
  const entryPoints = ["src", "grammar"].flatMap((dir) =>
    readdirSync(join(root, dir), { recursive: true })
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".spec.ts") && !f.endsWith(".d.ts"))
      .map((f) => join(root, dir, f)),
  );
  await build({
    entryPoints,
    outdir: dist,
    outbase: root,
    bundle: false,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: true,
    tsconfig: join(root, "tsconfig.json"),
    logLevel: "warning",
  });
}

/** The wasm kernels, unless the stamp says the wasm on disk came from these very inputs. */
function buildKernels() {
  const wasm = join(dist, "kernels", "rnn.wasm");
  const stamp = `${wasm}.inputs`;
  const script = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts.kernels;
  const hash = createHash("sha256").update(`${script}\0`);
  for (const f of readdirSync(join(root, "kernels")).sort())
    hash.update(`${f}\0`).update(readFileSync(join(root, "kernels", f)));
  hash.update(readFileSync(join(root, "node_modules", "assemblyscript", "package.json")));
  const inputs = hash.digest("hex");
  if (existsSync(wasm) && existsSync(stamp) && readFileSync(stamp, "utf8") === inputs) return;
  run(npm(), ["run", "kernels"]);
  writeFileSync(stamp, inputs);
}

function npm() {
  return process.platform === "win32" ? "npm.cmd" : "npm";
}

function run(command, args) {
  const r = spawnSync(command, args, {
    cwd: root,
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
