/**
 * String literals, decoded by rnnp rather than by JSON.parse: the escapes are JSON's (`\" \\ \/ \b
 * \f \n \r \t \uXXXX`), and what JSON.parse would throw on (an unknown escape, a raw tab or other
 * control character) becomes a problem with its place in the literal.
 */
export interface StringProblem {
  /** Index in the literal's text (the opening quote is 0). */
  index: number;
  length: number;
  message: string;
  hint: string;
}

export interface Decoded {
  /** The string's value; a bad escape is kept as written, so checking can go on. */
  value: string;
  /** The first problem, if any. */
  problem?: StringProblem;
}

const SIMPLE: Readonly<Record<string, string>> = Object.assign(Object.create(null), {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
});

const NAMED: Readonly<Record<number, string>> = { 9: "\\t", 8: "\\b", 12: "\\f" };

/** C0 controls, DEL and C1 controls: invisible in an editor, so never taken raw. */
export function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

export function codePointName(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** `image` is a StringLiteral token: `"` ... `"`, on one line. */
export function decodeString(image: string): Decoded {
  let value = "";
  let problem: StringProblem | undefined;
  const note = (p: StringProblem) => {
    problem ??= p;
  };
  const end = image.length - 1;
  for (let i = 1; i < end; i++) {
    const ch = image[i]!;
    const code = image.charCodeAt(i);
    if (ch !== "\\") {
      if (isControl(code))
        note({
          index: i,
          length: 1,
          message: `a raw control character (${codePointName(code)}) in a string`,
          hint: `write it as an escape: ${NAMED[code] ?? `\\u${code.toString(16).padStart(4, "0")}`}`,
        });
      value += ch;
      continue;
    }
    const next = image[i + 1]!;
    const simple = SIMPLE[next];
    if (simple !== undefined) {
      value += simple;
      i++;
      continue;
    }
    if (next === "u" && /^[0-9a-fA-F]{4}$/.test(image.slice(i + 2, i + 6))) {
      value += String.fromCharCode(Number.parseInt(image.slice(i + 2, i + 6), 16));
      i += 5;
      continue;
    }
    const shown = next === "u" ? image.slice(i, Math.min(i + 6, end)) : `\\${next}`;
    note({
      index: i,
      length: shown.length,
      message:
        next === "u"
          ? `\`${shown}\` is not an escape: \\u takes four hex digits`
          : `unknown escape \`${shown}\` in a string`,
      hint: 'escapes are \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX; write \\\\ for a backslash',
    });
    value += `\\${next}`;
    i++;
  }
  return problem ? { value, problem } : { value };
}
