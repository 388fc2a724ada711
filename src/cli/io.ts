import { AsyncLocalStorage } from "node:async_hooks";
import { closeSync, constants, fstatSync, openSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import pc from "picocolors";
import { inUserDir } from "../core/user-dir.js";

/**
 * What a command may touch of the world it runs in: its output streams, environment and working
 * directory. `main(argv, io)` runs a command against a given Io (tests pass captured streams, a clean
 * environment and a temporary directory); code below reads the current one with `io()`, so nothing
 * in the CLI reaches for `process.stdout`, `process.env` or `process.cwd()` directly.
 */
export interface Stream {
  write(chunk: string): unknown;
  /** A terminal: progress bars are drawn and colours used only then. */
  readonly isTTY?: boolean;
  readonly columns?: number | undefined;
  /** The Node stream behind it, for a protocol that needs one (the language server's writer). */
  nodeStream?(): NodeJS.WritableStream;
}

export interface Io {
  stdout: Stream;
  stderr: Stream;
  stdin: NodeJS.ReadableStream;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

/** The streams, environment and directory of this process: what the installed command runs with. */
export function processIo(): Io {
  return {
    stdout: processStream(1),
    stderr: processStream(2),
    // A getter: process.stdin builds a stream (and loads fs streams, about 5 ms) on first touch,
    // which only `predict` reading its input needs.
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    cwd: process.cwd(),
  };
}

const processStreams = new Map<1 | 2, Stream>();

/**
 * Standard output or error of this process. On Linux, while it is a pipe, a file or a socket, text
 * goes straight to the file descriptor (fs.writeSync): Node writes such a stream synchronously there
 * too, and its stream object costs a command that prints a few lines about 5 ms to set up (Node's
 * streams, net, their modules parsed from source). A terminal, another system, or a write the
 * descriptor refuses (EAGAIN: a full pipe; an error) goes through `process.stdout` or
 * `process.stderr`, from then on, so that nothing is written out of order.
 *
 * A pipe is written through a non-blocking description of its own (see `directTarget`): a blocking
 * write into a pipe nobody reads (`rnnp ... | less`, not yet scrolled) would hold the process in
 * the kernel, where Ctrl-C's handler (bin/rnnp.js) never runs.
 */
export function processStream(fd: 1 | 2): Stream {
  const known = processStreams.get(fd);
  if (known) return known;
  let real: NodeJS.WriteStream | undefined;
  const nodeWriter = () => {
    if (real) return real;
    real = fd === 1 ? process.stdout : process.stderr;
    if (fd === 1) real.on("error", quitOnOutputError);
    return real;
  };
  /** The descriptor written directly, while there is one. */
  let direct = process.platform === "linux" ? directTarget(fd) : undefined;
  const stopDirect = () => {
    if (direct !== undefined && direct !== fd) closeSync(direct); // a pipe's own description
    direct = undefined;
  };
  const made: Stream = {
    write(chunk: string) {
      if (direct === undefined) return nodeWriter().write(chunk);
      const bytes = Buffer.from(chunk, "utf8");
      let at = 0;
      try {
        while (at < bytes.length) at += writeSync(direct, bytes, at);
        return true;
      } catch {
        // Node's stream takes it from here, as it would have from the start: it waits out a full
        // non-blocking pipe, and a closed one (EPIPE) comes back as its 'error' event, after the
        // code that wrote has run on (a stage it was reporting on is committed first).
        stopDirect();
        return nodeWriter().write(at === 0 ? chunk : bytes.subarray(at));
      }
    },
    get isTTY() {
      return direct !== undefined ? false : nodeWriter().isTTY === true;
    },
    get columns() {
      return direct !== undefined ? undefined : nodeWriter().columns;
    },
    nodeStream() {
      stopDirect(); // one writer from now on: nothing out of order
      return nodeWriter();
    },
  };
  processStreams.set(fd, made);
  return made;
}

/**
 * The descriptor to write `fd`'s text to directly, or undefined for Node's stream: a terminal (or
 * /dev/null: what only Node's tty module can tell apart) and anything unusual go through Node. A
 * pipe is opened again, non-blocking, through /proc (a description of its own: `fd`'s, shared with
 * the shell and the other commands of the pipeline, keeps its flags): a full pipe then refuses
 * the write (EAGAIN) and Node's stream queues it while the event loop, and Ctrl-C, go on.
 */
function directTarget(fd: number): number | undefined {
  try {
    // BigInt: Node 20's fs.realpathSync reads the last non-BigInt stat's file type from an array
    // every stat call shares, and stops resolving links after a pipe's: require() would then load
    // modules by their link paths.
    const st = fstatSync(fd, { bigint: true });
    if (st.isFIFO())
      return openSync(`/proc/self/fd/${fd}`, constants.O_WRONLY | constants.O_NONBLOCK);
    // A socket (a program reading, as a Node parent's stdio): written as it is, blocking; /proc
    // does not open it again.
    return st.isFile() || st.isSocket() ? fd : undefined;
  } catch {
    return undefined; // closed or unusual (no /proc, another user's pipe): Node's stream decides
  }
}

/**
 * `rnnp ... | head` is fine: output closed early ends the command with the code it had. Output that
 * cannot be written (a full disk) ends it with 1 and one line that says so: thrown, the error
 * would print its place in the bundle, one line of the whole minified CLI (tens of kilobytes).
 */
function quitOnOutputError(e: unknown): never {
  if ((e as NodeJS.ErrnoException).code === "EPIPE") process.exit(process.exitCode ?? 0);
  try {
    writeSync(2, `rnnp: cannot write the standard output: ${(e as Error).message}\n`);
  } catch {
    // standard error is gone too: the exit code says it
  }
  process.exit(1);
}

/**
 * How much a command tells on the way to its result: `quiet` only errors and the final
 * verdict or summary; `verbose` also keys, timings and cache decisions per stage.
 */
export type Verbosity = "quiet" | "normal" | "verbose";

interface Session {
  io: Io;
  /** Run when the command ends, newest first (closing caches it opened). */
  cleanups: (() => unknown)[];
  verbosity: Verbosity;
}

const session = new AsyncLocalStorage<Session>();
/** The command of this whole process (bin/rnnp.js), set without async context tracking. */
let processWide: Session | undefined;

const current = (): Session | undefined => session.getStore() ?? processWide;

export function io(): Io {
  return current()?.io ?? processIo();
}

/**
 * Runs `fn` with `io` as the current Io, then its cleanups (even when it throws). In-process callers
 * (tests) get their own Io per asynchronous context; `processWide` (the installed command, one
 * command per process) sets it for the process, which spares every promise of the command the cost
 * of async context tracking (AsyncLocalStorage on Node 20 hooks every promise).
 */
export async function withIo<T>(
  given: Io,
  fn: () => Promise<T>,
  how: { processWide?: boolean } = {},
): Promise<T> {
  const s: Session = { io: given, cleanups: [], verbosity: "normal" };
  const body = () =>
    inUserDir(
      given.cwd,
      async () => {
        try {
          return await fn();
        } finally {
          for (const c of s.cleanups.reverse()) await c();
        }
      },
      how,
    );
  if (!how.processWide) return session.run(s, body);
  processWide = s;
  return body();
}

/** Something to undo when the current command ends (an open cache). */
export function onEnd(cleanup: () => unknown): void {
  current()?.cleanups.push(cleanup);
}

/** The global --quiet / --verbose of the running command. */
export function verbosity(): Verbosity {
  return current()?.verbosity ?? "normal";
}

export function setVerbosity(v: Verbosity): void {
  const s = current();
  if (s) s.verbosity = v;
}

export type Colors = ReturnType<typeof pc.createColors>;

/** A stream and the colours it takes: decided per stream, so `run ... 2> log` keeps escapes out of the log. */
export interface Printer {
  write(text: string): void;
  readonly c: Colors;
  readonly isTTY: boolean;
  readonly stream: Stream;
}

/** Colours on a terminal, unless NO_COLOR is set; FORCE_COLOR turns them on anywhere. */
export function colorsOn(stream: Stream, env: Io["env"]): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

/**
 * Printers made for a stream and an environment: a run prints a line or two per stage, and deciding
 * colours reads the environment (slow in Node), so it is decided once per stream and environment.
 */
const printers = new WeakMap<Stream, WeakMap<Io["env"], Printer>>();

function printer(stream: Stream, env: Io["env"]): Printer {
  const known = printers.get(stream)?.get(env);
  if (known) return known;
  const made: Printer = {
    write: (text) => void stream.write(text),
    c: pc.createColors(colorsOn(stream, env)),
    isTTY: stream.isTTY === true,
    stream,
  };
  if (!printers.has(stream)) printers.set(stream, new WeakMap());
  printers.get(stream)!.set(env, made);
  return made;
}

/** Standard output, for results. */
export function stdout(): Printer {
  const { stdout, env } = io();
  return printer(stdout, env);
}

/** Standard error, for diagnostics, progress and logs. */
export function stderr(): Printer {
  const { stderr, env } = io();
  return printer(stderr, env);
}

/** A path as the user wrote it on the command line, made absolute against the current directory. */
export function fromCwd(path: string): string {
  return resolve(io().cwd, path);
}
