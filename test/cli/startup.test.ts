import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, it } from "node:test";
import { NAMES_CSV, ROOT } from "../helpers.js";
import { launcherLine, NODE_FLAGS } from "../../src/core/node-flags.js";
import { checkedPipeline } from "../../src/cli/pipeline.js";
import { nativeDigest } from "../../src/core/digest.js";
import { Rig } from "../rig.js";
// @ts-expect-error: a build script in plain JavaScript, without declarations
import { install } from "../../scripts/bundle.mjs";

/**
 * What the installed command loads (issue 17.1): bin/rnnp.js runs the bundled CLI (one CommonJS
 * file compiled from its code cache), and a fully cached run loads neither TensorFlow.js nor the
 * parser (its checked pipeline is kept). Observed in real processes: a module hook logs every
 * module loaded, the built-in modules the process loaded are logged at exit, and RNNP_TIMING's
 * line shows whether the parser was built.
 */
const PIPELINE = `pipeline p {
  seed 2
  params { n = 5, unused = 1 }
  stage raw = load.csv(path: "d.csv", text: "name", label: "label")
  stage parts = split(raw, train: 0.6, val: 0.2, test: 0.2)
  stage h = head(parts, n: params.n)
}
`;

const HOOKS = `
import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  appendFileSync(process.env.LOADED_LOG, url + "\\n");
  return next(url, context);
}
`;
const OBSERVE = `
import { createRequire, register } from "node:module";
import { appendFileSync } from "node:fs";
register(new URL("./hooks.mjs", import.meta.url));
const required = createRequire(import.meta.url).cache;
process.on("exit", () => {
  appendFileSync(process.env.LOADED_LOG, process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).join("\\n") + "\\n");
  appendFileSync(process.env.LOADED_LOG, Object.keys(required).map((f) => "required " + f).join("\\n") + "\\n");
});
`;

/** Preloaded with --require: no module hooks, whose worker thread would load worker_threads. */
const OBSERVE_BUILT_INS = `
process.on("exit", () => {
  require("node:fs").appendFileSync(process.env.LOADED_LOG, process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).join("\\n") + "\\n");
});
`;

/**
 * rnnp as installed in PKG: its command, its built CLI (copies, so a test may change them), and
 * links to what the CLI finds beside itself (dist/src) and the package's own package.json.
 */
function installedCopy(pkg: string): void {
  mkdirSync(join(pkg, "dist", "cli"), { recursive: true });
  mkdirSync(join(pkg, "bin"), { recursive: true });
  for (const f of ["rnnp.js", "package.json"])
    copyFileSync(join(ROOT, "bin", f), join(pkg, "bin", f));
  for (const f of ["loader.cjs", "main.js", "cli.cjs", "cli.cjs.cache"])
    copyFileSync(join(ROOT, "dist", "cli", f), join(pkg, "dist", "cli", f));
  symlinkSync(join(ROOT, "dist", "src"), join(pkg, "dist", "src"));
  copyFileSync(join(ROOT, "package.json"), join(pkg, "package.json"));
}

/** A copy of dist/cli beside links to what it finds around it (dist/src, node_modules). */
function codeCacheRig() {
  const rig = new Rig();
  const cli = rig.path("dist", "cli");
  installedCopy(rig.dir);
  symlinkSync(join(ROOT, "node_modules"), rig.path("node_modules"));
  /** How a fresh process loaded the CLI (NODE_ARGS first, as preloads). */
  const load = (nodeArgs: string[] = []) => {
    const script = `const m = await import(${JSON.stringify(pathToFileURL(join(cli, "main.js")).href)});
      console.log(JSON.stringify({ cached: m.codeCacheUsed, plugin: typeof m.plugin, check: m.codeCacheCheck }));`;
    const r = spawnSync(
      process.execPath,
      [...NODE_FLAGS, ...nodeArgs, "--input-type=module", "-e", script],
      {
        encoding: "utf8",
        env: { PATH: process.env.PATH },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { cached: boolean; plugin: string; check: string };
  };
  return { rig, cli, load };
}

/**
 * The bundle in CLI with other bytes of the same length (its plugin export renamed): V8 alone
 * checks only the length of a code cache's source and would run the old code.
 */
function otherBytes(cli: string): string {
  const text = readFileSync(join(cli, "cli.cjs"), "latin1");
  const renamed = text.replace(/\bplugin:(\s*\(\)\s*=>\s*plugin\b)/, "plugix:$1");
  assert.notEqual(renamed, text);
  assert.equal(renamed.length, text.length);
  return renamed;
}

/** Waits until FILE last changed long enough ago for the loader to trust its identity. */
function settle(file: string): void {
  const ready = Number(statSync(file, { bigint: true }).ctimeNs / 1000000n) + 2100;
  while (Date.now() < ready) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
}

function project(): Rig {
  return new Rig().write({
    "d.csv": NAMES_CSV,
    "p.rnnp": PIPELINE,
    "hooks.mjs": HOOKS,
    "observe.mjs": OBSERVE,
    "observe-built-ins.cjs": OBSERVE_BUILT_INS,
  });
}

/**
 * The built-in modules (`NativeModule x`) that `rnnp ARGS` loaded, observed without hooks. Its
 * stdin is a file, as in `rnnp run p.rnnp < /dev/null`: touching process.stdin would then build an
 * fs stream (a pipe's is a socket, whose modules the piped stdout loads anyway).
 */
function builtInsLoaded(rig: Rig, args: string[]): string[] {
  const log = rig.path("built-ins.log");
  rmSync(log, { force: true });
  writeFileSync(rig.path("stdin.txt"), "");
  const stdin = openSync(rig.path("stdin.txt"), "r");
  try {
    const r = spawnSync(
      process.execPath,
      [
        ...NODE_FLAGS,
        "--require",
        rig.path("observe-built-ins.cjs"),
        join(ROOT, "bin", "rnnp.js"),
        ...args,
      ],
      {
        cwd: rig.dir,
        encoding: "utf8",
        env: { PATH: process.env.PATH, LOADED_LOG: log },
        stdio: [stdin, "pipe", "pipe"],
      },
    );
    assert.equal(r.status, 0, r.stderr);
  } finally {
    closeSync(stdin);
  }
  return readFileSync(log, "utf8").split("\n").filter(Boolean);
}

/** lmdb's platform package, and the add-on file in it that its finder picks on a glibc system. */
const ADDON_PACKAGE = `lmdb-${process.platform}-${process.arch}`;
const ADDON_FILE = `node.abi${process.versions.modules}.glibc.node`;

/** `rnnp ARGS` as a process, with what it loaded: module URLs and built-ins (`NativeModule x`). */
function observed(rig: Rig, args: string[], env: Record<string, string> = {}) {
  const log = rig.path("loaded.log");
  rmSync(log, { force: true });
  const r = rig.spawnSync(args, {
    env: { ...env, LOADED_LOG: log },
    nodeArgs: ["--import", pathToFileURL(rig.path("observe.mjs")).href],
  });
  assert.equal(r.code, 0, r.stderr);
  const loaded = readFileSync(log, "utf8").split("\n").filter(Boolean);
  return { ...r, loaded };
}

/**
 * How a process of `rnnp` started: NODE_OPTIONS (in `env`) preloads a script that records, at exit,
 * its pid, the flags Node was started with (execArgv holds the command line's, not NODE_OPTIONS')
 * and whether the CLI took its code cache; `read` gives them.
 */
function startReport(rig: Rig) {
  const report = rig.path("report.json");
  const loader = join(ROOT, "dist", "cli", "loader.cjs");
  rig.write({
    "report.cjs": `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(report)},
      JSON.stringify({ pid: process.pid, flags: process.execArgv, cached: require(${JSON.stringify(loader)}).codeCacheUsed })));`,
  });
  return {
    env: { PATH: process.env.PATH!, NODE_OPTIONS: `--require ${rig.path("report.cjs")}` },
    read: () =>
      JSON.parse(readFileSync(report, "utf8")) as { pid: number; flags: string[]; cached: boolean },
  };
}

describe("start-up", () => {
  it("bin/rnnp.js, run as the installed command, starts Node with NODE_FLAGS and the code cache made under them", (t) => {
    if (!existsSync("/bin/sh")) return t.skip("no /bin/sh: the launcher's line is for sh");
    const lines = readFileSync(join(ROOT, "bin", "rnnp.js"), "utf8").split("\n");
    assert.deepEqual(lines.slice(0, 2), ["#!/bin/sh", launcherLine()]);
    const rig = project();
    const report = startReport(rig);
    // Executed as npx and a shell execute it: by the kernel, through its first line.
    const r = spawnSync(join(ROOT, "bin", "rnnp.js"), ["--version"], {
      cwd: rig.dir,
      encoding: "utf8",
      env: report.env,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "", "sh's failed `//` says nothing");
    // `exec`: Node is the process started, not a child of sh (a signal sent to the command's pid,
    // as a job control or a supervisor sends it, reaches Node's handlers).
    assert.deepEqual(report.read(), { pid: r.pid, flags: NODE_FLAGS, cached: true });
  });

  it("bin/rnnp.js started by node itself (no line for sh) still takes the code cache", () => {
    // `node bin/rnnp.js`, or a launcher that runs a bin's .js file with node: V8 takes the cache
    // only under the flags it was made with, which bin/rnnp.js sets when Node was not given them.
    const rig = project();
    const report = startReport(rig);
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "rnnp.js"), "--version"], {
      cwd: rig.dir,
      encoding: "utf8",
      env: report.env,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(report.read(), { pid: r.pid, flags: [], cached: true });
  });

  it("bin/rnnp.js through a symlink in a folder with a space and quotes (node_modules/.bin) passes arguments and the exit code as they are", (t) => {
    if (!existsSync("/bin/sh")) return t.skip("no /bin/sh: the launcher's line is for sh");
    const rig = project();
    const bin = rig.path("b'in \"x", "rnnp");
    mkdirSync(dirname(bin));
    symlinkSync(join(ROOT, "bin", "rnnp.js"), bin);
    rig.write({ "bad 'q\" $HOME.rnnp": "this is not a pipeline\n" });
    const r = spawnSync(bin, ["validate", "bad 'q\" $HOME.rnnp"], {
      cwd: rig.dir,
      encoding: "utf8",
      env: { PATH: process.env.PATH, NO_COLOR: "1" },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--> bad 'q" \$HOME\.rnnp:1:1/);
  });

  it("bin/rnnp.js runs the bundle built by npm run build, not the modules under dist/src", () => {
    const rig = project();
    const { loaded, stdout } = observed(rig, ["--version"]);
    // The version the build wrote into the bundle: the package's.
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    assert.equal(stdout, `${pkg.version}\n`);
    // Commander's executable subcommands would load node:child_process (and net) on every command.
    assert.ok(loaded.includes("NativeModule fs"), "built-ins are observed");
    assert.equal(loaded.includes("NativeModule child_process"), false);
    // The observing hooks see the command itself (with `--import`, Node starts even a CommonJS
    // entry through its ES module loader), and no other module of rnnp's as an ES module...
    assert.deepEqual(
      loaded.filter((u) => u.startsWith(pathToFileURL(ROOT).href)),
      [pathToFileURL(join(ROOT, "bin", "rnnp.js")).href],
    );
    // ...but two CommonJS ones: the command, and the loader that compiles the one file of the CLI.
    assert.deepEqual(
      loaded.filter((l) => l.startsWith(`required ${ROOT}`)),
      [
        `required ${join(ROOT, "bin", "rnnp.js")}`,
        `required ${join(ROOT, "dist", "cli", "loader.cjs")}`,
      ],
    );
  });

  it("a fully cached run loads neither TensorFlow.js nor the parser", () => {
    const rig = project();
    const parsed = (r: { stderr: string }) => {
      const line = r.stderr.split("\n").find((l) => l.startsWith("rnnp-timing "));
      assert.ok(line, r.stderr);
      return line.includes('"parser built"');
    };
    const timing = { RNNP_TIMING: "1" };
    const first = rig.spawnSync(["run", "p.rnnp"], { env: timing });
    assert.match(first.stdout, /3 stages: 3 ran/);
    assert.equal(parsed(first), true, "the first run parses: the observation works");
    const cached = observed(rig, ["run", "p.rnnp"]);
    assert.match(cached.stdout, /3 stages: 3 cached/);
    assert.deepEqual(
      cached.loaded.filter((u) => u.includes("@tensorflow")),
      [],
    );
    // lmdb, msgpackr and the add-on finder are in the bundle (code-cached): what is required from
    // outside it is the command and its loader and lmdb's native add-on (msgpackr's optional one is
    // left out of the bundle; the next test follows the add-on).
    const required = cached.loaded.filter((l) => l.startsWith("required "));
    const code = required.filter((l) => !l.endsWith("package.json"));
    assert.ok(
      code.some((l) => /[\\/]@lmdb[\\/].*\.node$/.test(l)),
      `lmdb's add-on is seen: ${required.join("\n")}`,
    );
    assert.deepEqual(
      code.filter((l) => !l.endsWith(".node")),
      [
        `required ${join(ROOT, "bin", "rnnp.js")}`,
        `required ${join(ROOT, "dist", "cli", "loader.cjs")}`,
      ],
    );
    assert.equal(code.filter((l) => l.endsWith(".node")).length, 1, code.join("\n"));
    // Built-ins a cached run has no use for are loaded on first use only: child_process (lmdb's
    // libc probe, commander), worker_threads (the kernels' pool), perf_hooks (clocks), and the fs
    // streams that process.stdin would build.
    const builtIns = builtInsLoaded(rig, ["run", "p.rnnp"]);
    assert.ok(
      builtIns.includes("NativeModule vm"),
      `built-ins are observed: ${builtIns.join(" ")}`,
    );
    for (const unused of ["child_process", "worker_threads", "perf_hooks", "internal/fs/streams"])
      assert.equal(builtIns.includes(`NativeModule ${unused}`), false, unused);
    const again = rig.spawnSync(["run", "p.rnnp"], { env: timing });
    assert.match(again.stdout, /3 stages: 3 cached/);
    assert.equal(parsed(again), false);
    const status = rig.spawnSync(["status", "p.rnnp"], { env: timing });
    assert.match(status.stdout, /all 3 stages fresh/);
    assert.equal(parsed(status), false);
  });

  it("a cached run writing to pipes loads neither node:crypto, Node's streams, net nor os", (t) => {
    // SHA-256 comes from rnnp's digest add-on, stdout and stderr are written to their file
    // descriptors (src/cli/io.ts), lmdb's questions to node:os are answered from `process`, and
    // msgpackr's stream classes are left out (scripts/bundle.mjs): each loaded these modules.
    if (!nativeDigest()) return t.skip("the digest add-on is not built (npm run native)");
    const rig = project();
    // A data file hashed within 2 s of its last change is hashed again by the next run (the stat
    // cache's racy rule), as a stream through node:crypto: this one is older.
    settle(rig.path("d.csv"));
    assert.equal(rig.spawnSync(["run", "p.rnnp"]).code, 0);
    const builtIns = builtInsLoaded(rig, ["run", "p.rnnp"]);
    assert.ok(
      builtIns.includes("NativeModule vm"),
      `built-ins are observed: ${builtIns.join(" ")}`,
    );
    const heavy = ["crypto", "stream", "net", "tty", "os", "internal/fs/sync_write_stream"];
    assert.deepEqual(
      heavy.filter((m) => builtIns.includes(`NativeModule ${m}`)),
      [],
      builtIns.join(" "),
    );
    // The same command to a file and to /dev/null (a character device: Node's stream decides).
    const out = rig.path("out.txt");
    const file = openSync(out, "w");
    try {
      const r = spawnSync(
        process.execPath,
        [...NODE_FLAGS, join(ROOT, "bin", "rnnp.js"), "run", "p.rnnp"],
        {
          cwd: rig.dir,
          env: { PATH: process.env.PATH },
          stdio: ["ignore", file, "pipe"],
        },
      );
      assert.equal(r.status, 0, String(r.stderr));
    } finally {
      closeSync(file);
    }
    assert.match(readFileSync(out, "utf8"), /3 stages: 3 cached/);
  });

  it("loads lmdb's add-on from the file its finder would pick, without the finder", () => {
    const rig = project();
    assert.equal(rig.spawnSync(["run", "p.rnnp"]).code, 0);
    const addOns = (r: { loaded: string[] }) => r.loaded.filter((l) => l.endsWith(".node"));
    const packageFiles = (r: { loaded: string[] }) =>
      r.loaded.filter((l) => l.startsWith("required ") && l.endsWith("package.json"));
    // The finder requires lmdb's package.json first; the file it picks on this machine:
    const lmdb = realpathSync(join(ROOT, "node_modules", "lmdb"));
    const expected = join(lmdb, "..", "@lmdb", ADDON_PACKAGE, ADDON_FILE);
    const direct = observed(rig, ["run", "p.rnnp"]);
    // Where lmdb has no glibc add-on beside it (musl, another platform), the finder decides.
    if (existsSync(expected)) {
      assert.deepEqual(addOns(direct), [`required ${expected}`]);
      assert.deepEqual(packageFiles(direct), []);
    } else assert.deepEqual(packageFiles(direct), [`required ${join(lmdb, "package.json")}`]);
    // A setting the finder reads (here LIBC) leaves the choice to it, as without the bundle.
    const found = observed(rig, ["run", "p.rnnp"], { LIBC: "glibc" });
    assert.match(found.stdout, /3 stages: 3 cached/);
    assert.deepEqual(packageFiles(found), [`required ${join(lmdb, "package.json")}`]);
    assert.equal(addOns(found).length, 1);
  });

  it("loads the add-on its finder would pick when another platform package sits beside lmdb", (t) => {
    const platform = ADDON_PACKAGE;
    const real = realpathSync(join(ROOT, "node_modules", "@lmdb", platform));
    const pick = ADDON_FILE;
    if (!existsSync(join(real, pick))) return t.skip(`no ${pick} in @lmdb/${platform}`);
    /** The add-on `rnnp status` loads with lmdb (really) in LMDB, its platform package in FOUND. */
    const addOnLoaded = (layout: (rig: Rig) => { lmdb: string; found: string }) => {
      const rig = project();
      const modules = rig.path("app", "node_modules");
      installedCopy(join(modules, "rnnp"));
      const { lmdb, found } = layout(rig);
      mkdirSync(join(lmdb, "dist"), { recursive: true });
      for (const f of ["package.json", join("dist", "index.cjs")])
        copyFileSync(join(ROOT, "node_modules", "lmdb", f), join(lmdb, f));
      if (lmdb !== join(modules, "lmdb")) symlinkSync(lmdb, join(modules, "lmdb"));
      mkdirSync(join(found, "@lmdb"), { recursive: true });
      symlinkSync(real, join(found, "@lmdb", platform));
      // Beside lmdb, another version's (a copy of the add-on stands in for its own).
      const other = join(lmdb, "..", "@lmdb", platform);
      mkdirSync(other, { recursive: true });
      writeFileSync(join(other, "package.json"), `{"name":"@lmdb/${platform}","version":"0.0.1"}`);
      copyFileSync(join(real, pick), join(other, pick));
      const log = rig.path("loaded.log");
      const bin = join(modules, "rnnp", "bin", "rnnp.js");
      const observe = pathToFileURL(rig.path("observe.mjs")).href;
      const r = spawnSync(
        process.execPath,
        [...NODE_FLAGS, "--import", observe, bin, "status", "p.rnnp"],
        {
          cwd: rig.dir,
          encoding: "utf8",
          env: { PATH: process.env.PATH, LOADED_LOG: log },
        },
      );
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.endsWith(".node"));
    };
    // npm nests lmdb's platform package under lmdb when the one beside it is another version's
    // (another lmdb, nested elsewhere, placed it first): Node, and so the finder, look there first.
    const nested = addOnLoaded((rig) => {
      const lmdb = rig.path("app", "node_modules", "lmdb");
      return { lmdb, found: join(lmdb, "node_modules") };
    });
    assert.deepEqual(nested, [`required ${join(real, pick)}`]);
    // lmdb linked from a folder of checkouts: the folder beside it is not one Node looks in.
    const linked = addOnLoaded((rig) => ({
      lmdb: rig.path("src", "lmdb"),
      found: rig.path("src", "node_modules"),
    }));
    assert.deepEqual(linked, [`required ${join(real, pick)}`]);
  });

  it("compiles the CLI from the code cache made by the build, and only for the same bytes", () => {
    const { cli, load } = codeCacheRig();
    // A copy is another file, checked by its digest; while its change time is recent (a write now
    // might leave it as it is), its identity is not recorded, and it is checked by its digest again.
    assert.deepEqual(load(), { cached: true, plugin: "object", check: "digest" });
    assert.deepEqual(load(), { cached: true, plugin: "object", check: "digest" });
    settle(join(cli, "cli.cjs"));
    assert.deepEqual(load(), { cached: true, plugin: "object", check: "digest" });
    assert.deepEqual(load(), { cached: true, plugin: "object", check: "identity" });
    // The loader decodes the bundle as latin1: the build escaped every other character.
    const bytes = readFileSync(join(cli, "cli.cjs"));
    assert.equal(
      bytes.findIndex((b) => b > 0x7f),
      -1,
    );
    assert.match(bytes.toString("latin1"), /\\u2019/, "tokenize's apostrophe, escaped");
    // Written in place, its times set back: the change time still moves, and the digest decides.
    const { atime, mtime } = statSync(join(cli, "cli.cjs"));
    writeFileSync(join(cli, "cli.cjs"), otherBytes(cli), "latin1");
    utimesSync(join(cli, "cli.cjs"), atime, mtime);
    assert.deepEqual(load(), { cached: false, plugin: "undefined", check: "other bytes" });
    // Without its cache (or with an unreadable one) the CLI compiles from its source.
    rmSync(join(cli, "cli.cjs.cache"));
    assert.deepEqual(load(), { cached: false, plugin: "undefined", check: "no cache" });
  });

  it("does not trust a bundle's identity for bytes written while the loader read them", () => {
    const { cli, load, rig } = codeCacheRig();
    settle(join(cli, "cli.cjs"));
    assert.equal(load().check, "digest");
    assert.equal(load().check, "identity");
    // Another process rewrites the bundle in place (cp: the same inode) between the loader's
    // fstat and its read of the same descriptor.
    writeFileSync(rig.path("other.cjs"), otherBytes(cli), "latin1");
    writeFileSync(
      rig.path("rewrite.cjs"),
      `const fs = require("node:fs"); const read = fs.readFileSync; let once = false;
      fs.readFileSync = function (f, ...rest) {
        if (typeof f === "number" && !once) {
          once = true;
          fs.writeFileSync(${JSON.stringify(join(cli, "cli.cjs"))}, read(${JSON.stringify(rig.path("other.cjs"))}));
        }
        return read.call(this, f, ...rest);
      };`,
    );
    assert.deepEqual(load(["--require", rig.path("rewrite.cjs")]), {
      cached: false,
      plugin: "undefined",
      check: "other bytes",
    });
  });

  it("does not trust a bundle's identity on a file system whose times are whole seconds", () => {
    const { cli, load, rig } = codeCacheRig();
    // ext3, ext4 with 128-byte inodes, HFS+, some network file systems: two writes in one second
    // leave the same times.
    writeFileSync(
      rig.path("seconds.cjs"),
      `const fs = require("node:fs"); const fstat = fs.fstatSync;
      const whole = (s) => { for (const k of ["mtime", "ctime"]) {
        if (typeof s[k + "Ns"] === "bigint") s[k + "Ns"] -= s[k + "Ns"] % 1000000000n;
        s[k + "Ms"] = Math.floor(Number(s[k + "Ms"]) / 1000) * 1000; } return s; };
      fs.fstatSync = function (...a) { return whole(fstat.apply(this, a)); };`,
    );
    const coarse = ["--require", rig.path("seconds.cjs")];
    const original = readFileSync(join(cli, "cli.cjs"));
    // The bundle written in place, a command, the bundle written in place again: in one second.
    // (Early in a second: file times follow a clock that may lag Date.now() by a tick.)
    while (Math.abs((Date.now() % 1000) - 150) > 50) {}
    writeFileSync(join(cli, "cli.cjs"), original);
    assert.deepEqual(load(coarse), { cached: true, plugin: "object", check: "digest" });
    writeFileSync(join(cli, "cli.cjs"), otherBytes(cli), "latin1");
    assert.deepEqual(load(coarse), { cached: false, plugin: "undefined", check: "other bytes" });
  });

  it("imports the packages left outside the bundle from code compiled from the code cache", () => {
    // Graphviz (an ES module package) is imported by `dag --format svg` only: a function from
    // V8's code cache cannot `import()` by itself on Node 20; the loader's import does it.
    const rig = project();
    const r = rig.spawnSync(["dag", "p.rnnp", "--format", "svg"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /<svg[\s\S]*<\/svg>\n$/);
    assert.match(r.stdout, /<title>parts<\/title>/);
  });

  it("sees every change to what a checked pipeline depends on: the file's bytes and -P", () => {
    const rig = project();
    assert.equal(rig.spawnSync(["run", "p.rnnp"]).code, 0);
    rig.write({ "p.rnnp": PIPELINE.replace("n = 5", "n = 4") });
    const edited = rig.spawnSync(["status", "p.rnnp", "--json"]);
    const stale = (r: { stdout: string }) =>
      (JSON.parse(r.stdout) as { stages: { name: string; status: string }[] }).stages
        .filter((s) => s.status === "stale")
        .map((s) => s.name);
    assert.deepEqual(stale(edited), ["h"]);
    assert.equal(rig.spawnSync(["run", "p.rnnp"]).code, 0);
    assert.deepEqual(stale(rig.spawnSync(["status", "p.rnnp", "--json"])), []);
    assert.deepEqual(stale(rig.spawnSync(["status", "p.rnnp", "--json", "-P", "n=3"])), ["h"]);
    assert.deepEqual(stale(rig.spawnSync(["status", "p.rnnp", "--json", "-P", "n=4"])), []);
    // A file that stops being valid is reported, never served from what was kept.
    rig.write({ "p.rnnp": PIPELINE.replace("n: params.n", "n: params.nope") });
    const broken = rig.spawnSync(["run", "p.rnnp"]);
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /nope/);
  });

  it("checks exactly the bytes it keys on: a pipeline read from a pipe (read once) works", async () => {
    const rig = project();
    assert.equal(rig.spawnSync(["run", "p.rnnp"]).code, 0);
    const fifo = rig.path("p.fifo");
    assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
    const status = rig.spawn(["status", "p.fifo", "--json"]);
    // A second read of the pipe would wait forever: give up after a minute, and say so.
    const timer = setTimeout(() => status.child.kill(), 60_000);
    writeFileSync(fifo, PIPELINE); // blocks until rnnp opens it, once
    const r = await status;
    clearTimeout(timer);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { stages: unknown[] }).stages.length, 3);
  });

  it("parses the bytes it was given, not the file read again", () => {
    const rig = project();
    rig.write({ "p.rnnp": PIPELINE.replace("n = 5", "n = 7") });
    const bytes = new TextEncoder().encode(PIPELINE);
    const checked = checkedPipeline(rig.path("p.rnnp"), [], {}, bytes);
    assert.equal(checked.ir.params.n, 5);
  });

  it("prints the same bytes whether the checked pipeline was kept or not (warnings included)", () => {
    const rig = project();
    assert.equal(rig.spawnSync(["run", "p.rnnp"]).code, 0);
    const irs = rig.path("cache", "ir");
    assert.ok(existsSync(irs), "the run kept its checked pipeline");
    rmSync(irs, { recursive: true });
    for (const args of [
      ["run", "p.rnnp"],
      ["status", "p.rnnp"],
    ]) {
      rmSync(irs, { recursive: true, force: true });
      const parsed = rig.spawnSync(args);
      assert.equal(rig.spawnSync(["run", "p.rnnp"]).code, 0); // keeps it (status only reads)
      const kept = rig.spawnSync(args);
      assert.match(parsed.stderr, /unused/);
      assert.equal(kept.stdout.replace(/in \d+ ms/, ""), parsed.stdout.replace(/in \d+ ms/, ""));
      assert.equal(kept.stderr, parsed.stderr);
    }
  });

  it("a build moves each new file over the old one and removes what it no longer makes", async () => {
    const rig = new Rig().write({
      "staging/cli.cjs": "new bundle",
      "staging/cli.cjs.cache": "new cache",
      "cli/cli.cjs": "old bundle",
      "cli/cli.cjs.cache": "old cache",
      "cli/gone.js": "made by an older build",
    });
    await install(rig.path("staging"), rig.path("cli"));
    assert.equal(readFileSync(rig.path("cli", "cli.cjs"), "utf8"), "new bundle");
    assert.equal(readFileSync(rig.path("cli", "cli.cjs.cache"), "utf8"), "new cache");
    assert.equal(existsSync(rig.path("cli", "gone.js")), false);
    assert.deepEqual(readdirSync(rig.path("staging")), []);
  });

  it("finds lmdb where it really is when packages are linked (pnpm, npm's linked strategy)", () => {
    // rnnp in a store folder, its lmdb a link to where lmdb really is; lmdb's own add-on package
    // is found only from there, as in a linked install.
    const rig = project();
    const pkg = rig.path("store", "rnnp", "node_modules", "rnnp");
    installedCopy(pkg);
    symlinkSync(
      join(ROOT, "node_modules", "lmdb"),
      rig.path("store", "rnnp", "node_modules", "lmdb"),
    );
    const r = spawnSync(
      process.execPath,
      [...NODE_FLAGS, join(pkg, "bin", "rnnp.js"), "status", "p.rnnp"],
      {
        cwd: rig.dir,
        encoding: "utf8",
        env: { PATH: process.env.PATH },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /3 stages/);
  });
});
