/**
 * Canonical JSON: the one text form of a JSON value that keys and artifact headers are hashed over.
 * Object keys sorted by code unit, no whitespace, numbers in JavaScript's shortest round-trip form.
 * Values that JSON cannot say exactly (NaN, Infinity, undefined, functions) are refused rather than
 * silently changed, because a silently changed value would be a silently wrong key.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function canonicalJson(value: unknown): string {
  return write(value, []);
}

/**
 * `at` is the path from the root, kept as a stack of keys and indices: the "$.a.b[2]" of a
 * message is spelled only when a value is refused, never for every value written (keys hash large
 * records on every run).
 */
function write(value: unknown, at: (string | number)[]): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value))
        throw new TypeError(
          `canonical JSON: ${pathOf(at)} is ${value}, which JSON cannot represent`,
        );
      return Object.is(value, -0) ? "0" : JSON.stringify(value);
    case "string":
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        // A list of plain scalars (a table's column of strings: a million of them) is what
        // JSON.stringify writes, byte for byte, in one native pass and without a string per item.
        if (allScalars(value)) return JSON.stringify(value);
        const items: string[] = [];
        for (let i = 0; i < value.length; i++) {
          at.push(i);
          items.push(write(value[i], at));
          at.pop();
        }
        return `[${items.join(",")}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(
          `canonical JSON: ${pathOf(at)} is a ${proto?.constructor?.name ?? "object"}, not a plain object`,
        );
      }
      const record = value as Record<string, unknown>;
      const entries: string[] = [];
      for (const k of Object.keys(record).sort()) {
        if (record[k] === undefined) continue;
        at.push(k);
        entries.push(`${JSON.stringify(k)}:${write(record[k], at)}`);
        at.pop();
      }
      return `{${entries.join(",")}}`;
    }
    default:
      throw new TypeError(`canonical JSON: ${pathOf(at)} is ${typeof value}`);
  }
}

/** Strings, finite numbers, booleans and nulls only (no holes): their JSON has one spelling. */
function allScalars(xs: readonly unknown[]): boolean {
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const t = typeof x;
    if (t === "string" || t === "boolean" || x === null) continue;
    if (t === "number" && Number.isFinite(x)) continue;
    return false;
  }
  return true;
}

function pathOf(at: readonly (string | number)[]): string {
  return `$${at.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("")}`;
}
