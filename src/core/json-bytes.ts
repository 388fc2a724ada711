/**
 * JSON parsed from UTF-8 bytes without first turning them into one string. An artifact's header
 * holds a table's strings (tens of MB): `JSON.parse(bytes.toString())` holds that text and the
 * values parsed from it at once. Here structure is walked byte by byte and runs of up to
 * `SCALARS_PER_RUN` scalars (a column's cells) go to `JSON.parse` one run at a time, so the text
 * held at once is a run's. Values are exactly JSON.parse's (scalars are parsed by it), a
 * `"__proto__"` key stays data, and anything JSON.parse refuses is refused.
 */
export class JsonBytesError extends Error {}

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

export function parseJsonBytes(buf: Buffer, start = 0, end = buf.length): unknown {
  let at = start;
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
  const value = (): unknown => {
    skipSpace();
    const c = buf[at];
    if (c === OPEN_OBJECT) return object();
    if (c === OPEN_ARRAY) return array();
    const from = at;
    skipScalar();
    return parse(from, at);
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
        value: value(),
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
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) out.push(value());
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
