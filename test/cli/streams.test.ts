import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, constants, existsSync, openSync, readFileSync, readSync } from "node:fs";
import { describe, it } from "node:test";
import { BIN, cleanEnv } from "../helpers.js";
import { Rig, missingTool } from "../rig.js";
import { NODE_FLAGS } from "../../src/core/node-flags.js";

/**
 * The installed command's standard output and error (src/cli/io.ts, processStream): written to the
 * file descriptor while it is a pipe or a file, through Node's stream once the descriptor refuses a
 * write. What a reader gets must not depend on which.
 */

/** A table of `rows` rows: its CSV through `rnnp show` is far more than a pipe holds (64 KiB). */
function bigTable(rows: number): Rig {
  const lines = ["text,label"];
  for (let i = 0; i < rows; i++)
    lines.push(`"row ${i} é😀 ${"x".repeat(i % 40)}",${i % 2 ? "a" : "b"}`);
  const rig = new Rig().write({
    "d.csv": `${lines.join("\n")}\n`,
    "p.rnnp":
      'pipeline p {\n  stage raw = load.csv(path: "d.csv", text: "text", label: "label")\n}\n',
  });
  assert.equal(rig.spawnSync(["run", "p.rnnp"]).code, 0);
  return rig;
}

const SHOW = ["show", "raw", "p.rnnp", "--format", "csv"];

/** `rnnp ARGS`'s standard output written to a file. */
function toFile(rig: Rig, args: string[]): string {
  const out = rig.path("out.csv");
  const fd = openSync(out, "w");
  try {
    const r = spawnSync(process.execPath, [...NODE_FLAGS, BIN, ...args], {
      cwd: rig.dir,
      env: cleanEnv(),
      stdio: ["ignore", fd, "pipe"],
    });
    assert.equal(r.status, 0, String(r.stderr));
  } finally {
    closeSync(fd);
  }
  return readFileSync(out, "utf8");
}

/** Reads one byte of the non-blocking `fd` once there is one. */
async function firstByte(fd: number): Promise<void> {
  for (;;) {
    try {
      if (readSync(fd, Buffer.alloc(1)) === 1) return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * `command ARGS` (run in the rig's folder) with its stdout a FIFO that nobody reads yet: the
 * FIFO's read end (non-blocking), the child, its exit code to come, and its stderr so far.
 */
function intoUnreadFifo(rig: Rig, command: string, args: string[]) {
  const fifo = rig.path("out.fifo");
  assert.equal(spawnSync("mkfifo", [fifo]).status, 0);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const writer = openSync(fifo, constants.O_WRONLY);
  const child = spawn(command, args, {
    cwd: rig.dir,
    env: cleanEnv(),
    stdio: ["ignore", writer, "pipe"],
  });
  closeSync(writer);
  const err = { text: "" };
  child.stderr?.on("data", (d) => (err.text += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { reader, child, exited, err };
}

describe("the command's output streams", () => {
  it("a pipe gets exactly what a file gets, far beyond a pipe's buffer", () => {
    const rig = bigTable(20_000);
    const file = toFile(rig, SHOW);
    assert.ok(file.length > 500_000, `${file.length} characters`);
    assert.equal(file.split("\n").length, 20_002);
    const piped = rig.spawnSync(SHOW);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, file);
  });

  it("a shell's pipe (Node's own spawn gives a socket) gets exactly what a file gets", () => {
    const rig = bigTable(20_000);
    const file = toFile(rig, SHOW);
    // `sleep` first: the command meets a full pipe, and goes on through Node's stream.
    const quoted = [process.execPath, ...NODE_FLAGS, BIN, ...SHOW].map((a) => `'${a}'`).join(" ");
    const r = spawnSync("sh", ["-c", `${quoted} | (sleep 1; cat)`], {
      cwd: rig.dir,
      env: cleanEnv(),
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, file);
  });

  it("a non-blocking pipe that fills (EAGAIN) still gets everything, in order", async (t) => {
    const missing = missingTool("mkfifo") ?? missingTool("python3");
    if (missing) return t.skip(missing);
    const rig = bigTable(20_000);
    const expected = toFile(rig, SHOW);
    // A FIFO nobody reads until the command has filled it. Node makes a child's stdio blocking as
    // it spawns it, so Python sets O_NONBLOCK on the command's stdout, then becomes the command.
    const nonBlocking = [
      "import fcntl, os, sys",
      "fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_NONBLOCK)",
      "os.execv(sys.argv[1], sys.argv[1:])",
    ].join("\n");
    const { reader, exited, err } = intoUnreadFifo(rig, "python3", [
      "-c",
      nonBlocking,
      process.execPath,
      ...NODE_FLAGS,
      BIN,
      ...SHOW,
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the child meets a full pipe
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(1 << 16);
    for (;;) {
      let n: number;
      try {
        n = readSync(reader, buffer);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      if (n === 0) break; // every writer closed: the child is done
      chunks.push(Buffer.from(buffer.subarray(0, n)));
    }
    closeSync(reader);
    assert.equal(await exited, 0, err.text);
    assert.equal(Buffer.concat(chunks).toString("utf8"), expected);
  });

  it("output closed by its reader (`rnnp ... | head`) ends the command quietly, with its code", async () => {
    const rig = bigTable(20_000);
    const child = spawn(process.execPath, [...NODE_FLAGS, BIN, ...SHOW], {
      cwd: rig.dir,
      env: cleanEnv(),
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.once("data", () => child.stdout.destroy()); // read a little, then close
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 0);
    assert.equal(stderr, "");
  });

  it("Ctrl-C ends a command whose reader stopped reading (`rnnp ... | less`, not scrolled)", async (t) => {
    const missing = missingTool("mkfifo");
    if (missing) return t.skip(missing);
    const rig = bigTable(20_000);
    // A pipe (a FIFO: a shell's `|` is one too) that nobody reads, blocking as a shell makes it.
    const { reader, child, exited, err } = intoUnreadFifo(rig, process.execPath, [
      ...NODE_FLAGS,
      BIN,
      ...SHOW,
    ]);
    await firstByte(reader); // the command runs (its SIGINT handler is installed)
    await new Promise((resolve) => setTimeout(resolve, 500)); // it fills the pipe
    child.kill("SIGINT");
    // Blocked in write(2), the process never runs its SIGINT handler: ended here after 10 s.
    const late = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await exited;
    clearTimeout(late);
    closeSync(reader);
    assert.equal(code, 130, err.text);
    assert.match(err.text, /interrupted/);
  });

  it("output that cannot be written (a full disk) ends the command with 1 and one line", (t) => {
    if (!existsSync("/dev/full")) return t.skip("no /dev/full on this system");
    const rig = bigTable(2_000);
    const full = openSync("/dev/full", "w");
    try {
      const r = spawnSync(process.execPath, [...NODE_FLAGS, BIN, ...SHOW], {
        cwd: rig.dir,
        env: cleanEnv(),
        stdio: ["ignore", full, "pipe"],
        encoding: "utf8",
      });
      assert.equal(r.status, 1);
      assert.equal(
        r.stderr,
        "rnnp: cannot write the standard output: ENOSPC: no space left on device, write\n",
      );
    } finally {
      closeSync(full);
    }
  });
});
