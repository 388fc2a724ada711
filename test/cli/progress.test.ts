import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { stripVTControlCharacters } from "node:util";
import { type Io, setVerbosity, type Verbosity, withIo } from "../../src/cli/io.js";
import { Live, type LiveOptions, taskProgress } from "../../src/cli/progress.js";
import { Captured, cleanEnv } from "../rig.js";

/**
 * Issue 11, "honest, readable status": what a command shows while it works (src/cli/progress.ts),
 * driven by hand with a fake clock against captured streams that are, or are not, terminals.
 */

const ESC = "\x1b";

/** Runs `fn` with stderr captured (a terminal or not) at a verbosity; returns what stderr got. */
async function onStderr(
  tty: boolean,
  fn: (clock: { t: number }) => void,
  how: { verbosity?: Verbosity; env?: Record<string, string> } = {},
): Promise<string> {
  const stderr = new Captured(tty, 200);
  const io: Io = {
    stdout: new Captured(),
    stderr,
    stdin: new PassThrough(),
    env: cleanEnv(how.env),
    cwd: process.cwd(),
  };
  await withIo(io, async () => {
    setVerbosity(how.verbosity ?? "normal");
    fn({ t: 0 });
  });
  return stderr.text;
}

const live = (clock: { t: number }, opts: LiveOptions = {}) =>
  new Live({ now: () => clock.t, ...opts });

/** The frames a terminal shows: each redraw starts with a carriage return and erase-line. */
const frames = (text: string) => text.split("\r\x1b[K").filter(Boolean);

describe("the training progress bar (a terminal, one stage at a time)", () => {
  it("redraws the loss and speed of every batch, not those of the first", async () => {
    const out = await onStderr(true, (clock) => {
      const l = live(clock);
      l.start("fit");
      for (const [b, loss, speed] of [
        [1, "0.9000", 100],
        [2, "0.7000", 120],
        [3, "0.5000", 140],
        [4, "0.4100", 160],
      ] as const) {
        clock.t += 150;
        l.progress("fit", b, 4, `batches, epoch 3/10, loss ${loss}, ${speed} samples/s`);
      }
      l.stop();
    });
    const shown = frames(out);
    assert.deepEqual(
      shown.map((f) =>
        f.match(/\] (\d)\/4 batches, epoch 3\/10, loss ([\d.]+), (\d+) samples/)?.slice(1),
      ),
      [
        ["1", "0.9000", "100"],
        ["2", "0.7000", "120"],
        ["3", "0.5000", "140"],
        ["4", "0.4100", "160"],
      ],
    );
    assert.match(shown[1]!, /^ {2}fit \[█{10}░{10}\] .* 50% eta 300 ms$/);
    assert.ok(out.endsWith("\r\x1b[K"), "the bar is taken off the screen when the run stops");
  });

  it("draws at most ten times a second, but always the last batch", async () => {
    const out = await onStderr(true, (clock) => {
      const l = live(clock);
      for (let b = 1; b <= 50; b++) {
        clock.t += 10;
        l.progress("fit", b, 50, "batches");
      }
    });
    const shown = frames(out).map((f) => Number(f.match(/\] (\d+)\/50/)![1]));
    assert.deepEqual(shown, [1, 11, 21, 31, 41, 50]);
  });

  it("prints a stage's log line above the bar, prefixed by the stage, and redraws the bar", async () => {
    const out = await onStderr(true, (clock) => {
      const l = live(clock);
      l.progress("fit", 4, 4, "batches, epoch 3/10, loss 0.4100");
      l.log("fit", "epoch 3/10  loss 0.4100");
    });
    assert.ok(out.includes("\r\x1b[K[fit] epoch 3/10  loss 0.4100\n\r\x1b[K  fit ["), out);
    assert.ok(out.endsWith("4/4 batches, epoch 3/10, loss 0.4100  100%"), out);
  });
});

describe("progress off a terminal (a log file, CI)", () => {
  it("prints no bar and no escapes, but a plain line per stage at most every 5 s", async () => {
    const out = await onStderr(false, (clock) => {
      const l = live(clock);
      l.start("fit");
      for (let b = 1; b <= 13; b++) {
        clock.t = b * 1000;
        l.progress("fit", b, 13, `batches, epoch 1/2, loss 0.${b}`);
      }
      l.log("fit", "epoch 1/2  loss 0.13");
      l.stop();
    });
    assert.ok(!out.includes(ESC) && !out.includes("\r"), JSON.stringify(out));
    assert.equal(
      out,
      "[fit] 5/13 batches, epoch 1/2, loss 0.5\n" +
        "[fit] 10/13 batches, epoch 1/2, loss 0.10\n" +
        "[fit] epoch 1/2  loss 0.13\n",
    );
  });

  it("a job's own process leaves the prefix to its coordinator", async () => {
    const out = await onStderr(false, (clock) => {
      const l = live(clock, { prefix: false });
      l.log("fit", "epoch 1/2  loss 0.13");
    });
    assert.equal(out, "epoch 1/2  loss 0.13\n");
  });

  it("--quiet shows neither progress nor logs", async () => {
    for (const tty of [true, false]) {
      const out = await onStderr(
        tty,
        (clock) => {
          const l = live(clock);
          assert.equal(l.mode, "off");
          l.start("fit");
          clock.t = 60_000;
          l.progress("fit", 1, 2, "batches");
          l.log("fit", "epoch 1/2");
          l.stop();
        },
        { verbosity: "quiet" },
      );
      assert.equal(out, "");
    }
  });
});

describe("what runs now, when several stages run at once (run --jobs N, check)", () => {
  it("keeps a footer naming each running stage with its time and last line", async () => {
    const out = await onStderr(
      true,
      (clock) => {
        const l = live(clock, { concurrent: true });
        assert.equal(l.mode, "board");
        l.start("fit");
        clock.t = 1000;
        l.start("prep");
        clock.t = 3500;
        l.log("fit", "epoch 3/10 loss 0.41");
        l.end("prep");
        clock.t = 4000;
        l.progress("fit", 2, 8, "batches");
      },
      { env: { NO_COLOR: "" } },
    );
    const plain = stripVTControlCharacters(out.replaceAll("\r\x1b[K", "\r")).replaceAll(
      "\r",
      "\r\x1b[K",
    );
    assert.deepEqual(frames(plain), [
      "running fit 0 s",
      "running fit 1 s · prep 0 s",
      "[fit] epoch 3/10 loss 0.41\n",
      "running fit 3 s: epoch 3/10 loss 0.41 · prep 2 s",
      "running fit 4 s: 2/8 batches",
    ]);
    assert.ok(
      out.includes(`${ESC}[2m[fit]${ESC}[22m`),
      "the prefix is dimmed on a colour terminal",
    );
  });
});

describe("progress of long cache tasks (verify, export, import, repair)", () => {
  const drive = (clock: { t: number }, update: (p: string, d: number, t: number) => void) => {
    for (let i = 1; i <= 12; i++) {
      clock.t = i * 1000;
      update("read", i * 1024 * 1024, 12 * 1024 * 1024);
    }
    clock.t += 1;
    update("check", 3, 3);
  };

  it("on a terminal: one line redrawn, counted in bytes or items", async () => {
    const out = await onStderr(true, (clock) => {
      const p = taskProgress(true, { now: () => clock.t });
      drive(clock, p.update);
      p.stop();
    });
    const shown = frames(out);
    assert.equal(shown.length, 13);
    assert.equal(shown[0], "  read 1.0 MiB of 12 MiB (8%)");
    assert.equal(shown[12], "  check 3 of 3 (100%)");
    assert.ok(out.endsWith("\r\x1b[K"));
  });

  it("off a terminal: nothing, unless --verbose (then plain lines every 5 s and at each end)", async () => {
    const quietly = await onStderr(false, (clock) => {
      drive(clock, taskProgress(true, { now: () => clock.t }).update);
    });
    assert.equal(quietly, "");
    const verbose = await onStderr(
      false,
      (clock) => drive(clock, taskProgress(true, { now: () => clock.t }).update),
      { verbosity: "verbose" },
    );
    assert.equal(
      verbose,
      "  read 1.0 MiB of 12 MiB (8%)\n" +
        "  read 6.0 MiB of 12 MiB (50%)\n" +
        "  read 11 MiB of 12 MiB (91%)\n" +
        "  read 12 MiB of 12 MiB (100%)\n" +
        "  check 3 of 3 (100%)\n",
    );
  });

  it("--json or --quiet: nothing, even on a terminal", async () => {
    assert.equal(await onStderr(true, (clock) => drive(clock, taskProgress(false).update)), "");
    assert.equal(
      await onStderr(true, (clock) => drive(clock, taskProgress(true).update), {
        verbosity: "quiet",
      }),
      "",
    );
  });
});
