// Builds rnnp's native kernels (native/*.cc, binding.gyp) with node-gyp, at install and in
// `npm run build`, when a C++ compiler is here. It never fails: without a compiler or Node's headers,
// or when the build fails, rnnp runs its WebAssembly kernels (the same bytes), and this says why.
//
//   node native/install.js                build (configure first when binding.gyp changed)
//   node native/install.js --rebuild      configure and build from scratch
//   node native/install.js --check        exit 1 unless the add-ons are built and load, the kernels
//                                         port the built wasm kernels, the digest add-on gives
//                                         node:crypto's SHA-256 and the pages add-on leaves the
//                                         process's own memory alone (CI: the native paths are tested)
//
// RNNP_NATIVE=0 skips the build. Nothing here downloads: Node's headers must be on this machine
// (npm's `nodedir`, or include/node beside the node binary, as every Node.js distribution has).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const addon = join(root, "build", "Release", "rnnp_kernels.node");
const digestAddon = join(root, "build", "Release", "rnnp_digest.node");
const pagesAddon = join(root, "build", "Release", "rnnp_pages.node");
const log = join(root, "build", "native-build.log");
const say = (line) => process.stderr.write(`rnnp: ${line}\n`);

if (process.argv.includes("--check")) process.exit((await check()) ? 0 : 1);
build(process.argv.includes("--rebuild"));

function build(fresh) {
  if (process.env.RNNP_NATIVE === "0") return skip("RNNP_NATIVE=0");
  const compiler = process.env.CXX ?? "c++";
  if (spawnSync(compiler, ["--version"], { stdio: "ignore" }).status !== 0)
    return skip(`no C++ compiler (${compiler})`);
  const gyp = nodeGyp();
  if (!gyp) return skip("node-gyp not found (npm carries it)");
  const headers = nodeHeaders();
  if (!headers) return skip("no Node.js headers on this machine (set npm's nodedir)");
  const configured = existsSync(join(root, "build", "Makefile"));
  const stale =
    !configured ||
    statSync(join(root, "binding.gyp")).mtimeMs > statSync(join(root, "build", "Makefile")).mtimeMs;
  const verb = fresh || stale ? "rebuild" : "build";
  const args = [gyp, verb, "--jobs=max", ...headers];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", timeout: 600_000 });
  mkdirSync(dirname(log), { recursive: true });
  writeFileSync(log, `$ node ${args.join(" ")}\n${r.stdout ?? ""}${r.stderr ?? ""}`);
  if (r.status !== 0)
    return skip(`the native build failed (${r.error?.message ?? `exit ${r.status}`}; see ${log})`);
  if (verb === "rebuild") say(`native kernels built (${loaded()?.isas.join(", ") ?? "?"})`);
}

function skip(why) {
  say(`native kernels not built: ${why}; the WebAssembly kernels will run (the same bytes)`);
}

/** npm's own node-gyp: npm names it in lifecycle scripts; else beside npm; else none. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(
      dirname(process.execPath),
      "..",
      "lib",
      "node_modules",
      "npm",
      "node_modules",
      "node-gyp",
      "bin",
      "node-gyp.js",
    ),
  ];
  return candidates.find((p) => p && existsSync(p));
}

/** node-gyp's arguments for this Node's headers, or undefined when none are here (no download). */
function nodeHeaders() {
  const configured = process.env.npm_config_nodedir;
  if (configured && existsSync(join(configured, "include", "node", "node_api.h"))) return [];
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, "include", "node", "node_api.h"))) return [`--nodedir=${prefix}`];
  return undefined;
}

function loaded() {
  try {
    return createRequire(import.meta.url)(addon);
  } catch {
    return undefined;
  }
}

async function check() {
  if (!existsSync(addon)) {
    say(`native kernels are not built (${addon})${existsSync(log) ? `; see ${log}` : ""}`);
    return false;
  }
  const a = loaded();
  if (!a) {
    say(`native kernels do not load (${addon})`);
    return false;
  }
  const wasm = join(root, "dist", "kernels", "rnn.wasm");
  if (existsSync(wasm)) {
    const digest = createHash("sha256").update(readFileSync(wasm)).digest("hex").slice(0, 16);
    if (a.portOf !== digest) {
      say(`native kernels port ${a.portOf}, but the built wasm kernels are ${digest}`);
      return false;
    }
  }
  say(`native kernels: ${a.isas.join(", ")} (a port of ${a.portOf})`);
  return (await checkDigest()) && (await checkPages());
}

/**
 * The digest add-on (native/digest.c) passes the gate rnnp itself puts it through (loaded with
 * RTLD_NOW, every known answer: src/core/digest.ts), and gives node:crypto's SHA-256.
 */
async function checkDigest() {
  const built = join(root, "dist", "src", "core", "digest.js");
  if (!existsSync(built)) {
    say(`rnnp is not built (${built}): npm run build, then check again`);
    return false;
  }
  const { digestAddonAt } = await import(pathToFileURL(built).href);
  const digest = digestAddonAt(digestAddon);
  if (!digest) {
    say(`the digest add-on does not load or gives wrong answers (${digestAddon})`);
    return false;
  }
  const text = "rnnp é😀";
  if (digest.sha256(text) !== createHash("sha256").update(text).digest("hex")) {
    say(`the digest add-on gives another SHA-256 than node:crypto (${digestAddon})`);
    return false;
  }
  say("digest add-on: SHA-256 from Node's OpenSSL");
  return true;
}

/**
 * The pages add-on (native/pages.c) loads as rnnp loads it (src/cache/pages.ts) and leaves the
 * process's own memory alone.
 */
async function checkPages() {
  const { pagesAddonAt } = await import(
    pathToFileURL(join(root, "dist", "src", "cache", "pages.js")).href
  );
  const pages = pagesAddonAt(pagesAddon);
  if (!pages) {
    say(`the pages add-on does not load (${pagesAddon})`);
    return false;
  }
  const own = Buffer.alloc(1 << 20, 7);
  if (pages.release(own) !== 0 || !own.every((b) => b === 7)) {
    say(`the pages add-on touched memory that is not a shared mapping of a file (${pagesAddon})`);
    return false;
  }
  say("pages add-on: a read blob's mapped pages are given back");
  return true;
}
