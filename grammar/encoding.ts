/**
 * Pipeline files are UTF-8. A UTF-8 byte order mark is skipped (some Windows editors write one);
 * UTF-16 and UTF-32 (with or without a mark) and bytes that are not UTF-8 are reported as such,
 * instead of as a storm of "unexpected character" errors at invisible characters.
 */
export interface EncodingProblem {
  message: string;
  hint: string;
  /** Where in the text decoded so far the problem starts (0 for the whole file). */
  line: number;
  column: number;
  offset: number;
}

const CONVERT =
  "save the file as UTF-8 (for example `iconv -f UTF-16 -t UTF-8 in.rnnp > out.rnnp`)";

/** The text of a pipeline file, or what is wrong with its encoding. */
export function decodeSource(bytes: Uint8Array): { text: string } | { problem: EncodingProblem } {
  const wide = wideEncoding(bytes);
  if (wide) return { problem: whole(`the file is ${wide} text; rnnp reads UTF-8`, CONVERT) };
  const bad = firstInvalidUtf8(bytes);
  if (bad !== -1) {
    const before = new TextDecoder("utf-8").decode(bytes.subarray(0, bad));
    const text = stripBom(before);
    const lineStart = text.lastIndexOf("\n") + 1;
    return {
      problem: {
        message: `the file is not UTF-8: byte 0x${bytes[bad]!.toString(16).padStart(2, "0")} at byte offset ${bad} starts no UTF-8 character`,
        hint: "save the file as UTF-8 (it may be Latin-1 or Windows-1252 text)",
        line: countLines(text),
        column: text.length - lineStart + 1,
        offset: text.length,
      },
    };
  }
  return { text: stripBom(new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes)) };
}

/**
 * For text that was decoded elsewhere (an editor buffer, a test): NUL characters or replacement
 * characters where a UTF-16 byte order mark was mean the bytes were not UTF-8.
 */
export function textEncodingProblem(text: string): EncodingProblem | undefined {
  const head = text.slice(0, 4096);
  let nuls = 0;
  for (let i = head.indexOf("\u0000"); i !== -1; i = head.indexOf("\u0000", i + 1)) nuls++;
  // Mostly-ASCII UTF-16 read as UTF-8 or Latin-1 has a NUL for every other character.
  if (head.startsWith("\uFFFD\uFFFD") || head.startsWith("\uFFFE") || nuls > head.length / 4)
    return whole(
      "the text holds NUL or byte-order characters: the file is probably UTF-16",
      CONVERT,
    );
  return undefined;
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function whole(message: string, hint: string): EncodingProblem {
  return { message, hint, line: 1, column: 1, offset: 0 };
}

/** UTF-32 or UTF-16 by byte order mark, or by the NUL bytes of mostly-ASCII wide text. */
function wideEncoding(b: Uint8Array): string | undefined {
  if (b[0] === 0x00 && b[1] === 0x00 && b[2] === 0xfe && b[3] === 0xff)
    return "UTF-32 (big-endian)";
  if (b[0] === 0xff && b[1] === 0xfe && b[2] === 0x00 && b[3] === 0x00)
    return "UTF-32 (little-endian)";
  if (b[0] === 0xfe && b[1] === 0xff) return "UTF-16 (big-endian)";
  if (b[0] === 0xff && b[1] === 0xfe) return "UTF-16 (little-endian)";
  const n = Math.min(b.length, 4096) & ~1;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i++) if (b[i] === 0) i % 2 === 0 ? even++ : odd++;
  if (n >= 4 && odd > n / 4 && even === 0) return "UTF-16 (little-endian)";
  if (n >= 4 && even > n / 4 && odd === 0) return "UTF-16 (big-endian)";
  return undefined;
}

/** The offset of the first byte that does not belong to a well-formed UTF-8 sequence, or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) (n = 1), (min = 0x80);
    else if (c >= 0xe0 && c <= 0xef) (n = 2), (min = 0x800);
    else if (c >= 0xf0 && c <= 0xf4) (n = 3), (min = 0x10000);
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (x & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

function countLines(text: string): number {
  let n = 1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
  return n;
}
