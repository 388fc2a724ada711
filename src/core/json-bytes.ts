/**
 * JSON parsed from UTF-8 bytes without first turning them into one string. An artifact's header
 * holds a table's strings (tens of MB): `JSON.parse(bytes.toString())` holds that text and the
 * values parsed from it at once. Here structure is walked byte by byte and runs of up to
 * `SCALARS_PER_RUN` scalars (a column's cells) go to `JSON.parse` one run at a time, so the text
 * held at once is a run's. Values are exactly JSON.parse's (scalars are parsed by it), a
 * `"__proto__"` key stays data, and anything JSON.parse refuses is refused, in a list left unparsed
 * (`skip`) too: its strings are checked byte by byte (a raw byte below 0x20, a bad escape) and its
 * other scalars by JSON.parse, so skipping a list never lets through a text JSON.parse would refuse.
 */
export class JsonBytesError extends Error {}

/** Where a value lies in the parsed text: the keys and list indices from the root. */
export type JsonPath = readonly (string | number)[];

export interface JsonBytesOptions {
  /**
   * Lists of scalars to leave unparsed, by their place (a table's column a stage does not read: a
   * million strings it would make and drop). Each is checked as JSON.parse would check it and its
   * items counted, but no value is made: it comes back as a SkippedList. A list holding objects or
   * lists is parsed as usual.
   */
  skip?(path: JsonPath): boolean;
  /**
   * Told, every `READ_STEP` bytes or so of a list's items parsed, the offset in `buf` the parse has
   * read up to: what lies before it is not read again, so the caller may give its memory back (a
   * blob's mapped pages: src/cache/pages.ts).
   */
  read?(upTo: number): void;
}

/** How often `read` is told: a few MiB, so that giving back costs little next to the parsing. */
const READ_STEP = 4 * 1024 * 1024;

/** A list left unparsed: its bytes [from, to) in the buffer it was read from, and its length. */
export class SkippedList {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly count: number,
  ) {}
}

const SCALARS_PER_RUN = 4096;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

const isSpace = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** What may follow a backslash in a JSON string (`u` and its four hex digits apart). */
const ESCAPED = new Set([...'"\\/bfnrt'].map((c) => c.charCodeAt(0)));
const U = 0x75;
const isHex = (c: number | undefined) =>
  c !== undefined && ((c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66));

export function parseJsonBytes(
  buf: Buffer,
  start = 0,
  end = buf.length,
  options: JsonBytesOptions = {},
): unknown {
  let at = start;
  let told = start;
  // Kept only for `skip`: the place of the value being parsed.
  const path: (string | number)[] = [];
  const fail = (what: string): never => {
    throw new JsonBytesError(`${what} at byte ${at - start} of the JSON text`);
  };
  const skipSpace = () => {
    while (at < end && isSpace(buf[at])) at++;
  };
  /** Text of bytes [from, to) parsed by JSON.parse, its refusal ours. */
  const parse = (from: number, to: number, prefix = "", suffix = ""): unknown => {
    try {
      return JSON.parse(`${prefix}${buf.toString("utf8", from, to)}${suffix}`);
    } catch (e) {
      at = from;
      return fail((e as Error).message);
    }
  };
  /** Past one scalar: a string to its closing quote, anything else to where a structure resumes. */
  const skipScalar = () => {
    if (buf[at] === QUOTE) {
      for (at++; at < end; at++) {
        const c = buf[at];
        if (c === BACKSLASH) at++;
        else if (c === QUOTE) {
          at++;
          return;
        }
      }
      fail("unterminated string");
    }
    const from = at;
    while (at < end) {
      const c = buf[at];
      if (c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT || c === COLON || isSpace(c))
        break;
      if (c === OPEN_ARRAY || c === OPEN_OBJECT || c === QUOTE) break;
      at++;
    }
    if (at === from) fail("expected a value");
  };
  /**
   * Past a string, checked as JSON.parse checks one: no raw control characters, JSON's escapes only.
   * (The byte loop is on locals, `at` set on leaving: a column's strings are tens of MB.)
   */
  const skipCheckedString = () => {
    const b = buf;
    const stop = end;
    for (let i = at + 1; i < stop; i++) {
      const c = b[i]!;
      if (c === QUOTE) {
        at = i + 1;
        return;
      }
      if (c < 0x20) {
        at = i;
        fail("bad control character in string literal");
      }
      if (c === BACKSLASH) {
        at = ++i;
        const e = i < stop ? b[i] : undefined;
        if (e === U) {
          for (let k = 1; k <= 4; k++)
            if (!(i + k < stop && isHex(b[i + k]))) fail("bad Unicode escape");
          i += 4;
        } else if (e === undefined || !ESCAPED.has(e)) fail("bad escaped character");
      }
    }
    at = stop;
    fail("unterminated string");
  };
  /**
   * Past a list of scalars, each checked as JSON.parse checks it and counted, none made; undefined
   * (nothing consumed) when the list holds an object or a list.
   */
  const skipList = (): SkippedList | undefined => {
    const from = at;
    const next = () => (at < end ? buf[at] : undefined);
    let count = 0;
    at++;
    skipSpace();
    if (next() === CLOSE_ARRAY) {
      at++;
      return new SkippedList(from, at, 0);
    }
    for (;;) {
      skipSpace();
      const c = next();
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        at = from;
        return undefined;
      }
      if (c === QUOTE) skipCheckedString();
      else {
        const token = at;
        skipScalar();
        parse(token, at);
      }
      count++;
      skipSpace();
      if (next() === COMMA) at++;
      else if (next() === CLOSE_ARRAY) {
        at++;
        return new SkippedList(from, at, count);
      } else fail("expected ',' or ']'");
    }
  };
  const value = (): unknown => {
    skipSpace();
    const c = buf[at];
    if (c === OPEN_OBJECT) return object();
    if (c === OPEN_ARRAY) return (options.skip?.(path) ? skipList() : undefined) ?? array();
    const from = at;
    skipScalar();
    return parse(from, at);
  };
  /** The value at `key` (a member's name or an item's index), its place known to `skip`. */
  const valueAt = (key: string | number): unknown => {
    path.push(key);
    const v = value();
    path.pop();
    return v;
  };
  const object = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    at++;
    skipSpace();
    if (buf[at] === CLOSE_OBJECT) {
      at++;
      return out;
    }
    for (;;) {
      skipSpace();
      if (buf[at] !== QUOTE) fail("expected a key");
      const from = at;
      skipScalar();
      const key = parse(from, at) as string;
      skipSpace();
      if (buf[at] !== COLON) fail("expected ':'");
      at++;
      // Defined, not assigned: a "__proto__" key is data, as JSON.parse makes it.
      Object.defineProperty(out, key, {
        value: valueAt(key),
        writable: true,
        enumerable: true,
        configurable: true,
      });
      skipSpace();
      if (buf[at] === COMMA) at++;
      else if (buf[at] === CLOSE_OBJECT) {
        at++;
        return out;
      } else fail("expected ',' or '}'");
    }
  };
  const array = (): unknown[] => {
    const out: unknown[] = [];
    at++;
    skipSpace();
    if (buf[at] === CLOSE_ARRAY) {
      at++;
      return out;
    }
    for (;;) {
      skipSpace();
      const c = buf[at];
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) out.push(valueAt(out.length));
      else {
        // A run of scalars, parsed as one JSON list of them.
        const from = at;
        let n = 0;
        for (;;) {
          skipScalar();
          n++;
          const last = at;
          skipSpace();
          const next = buf[at + 1];
          if (
            n < SCALARS_PER_RUN &&
            buf[at] === COMMA &&
            !isSpace(next) &&
            next !== OPEN_OBJECT &&
            next !== OPEN_ARRAY &&
            at + 1 < end
          ) {
            at++;
            continue;
          }
          at = last;
          break;
        }
        const items = parse(from, at, "[", "]") as unknown[];
        for (let i = 0; i < items.length; i++) out.push(items[i]);
        if (options.read && at - told >= READ_STEP) {
          told = at;
          options.read(at);
        }
      }
      skipSpace();
      if (buf[at] === COMMA) at++;
      else if (buf[at] === CLOSE_ARRAY) {
        at++;
        return out;
      } else fail("expected ',' or ']'");
    }
  };
  const v = value();
  skipSpace();
  if (at !== end) fail("unexpected text after the value");
  return v;
}
