/**
 * Canonical JSON: the one text form of a JSON value that keys and artifact headers are hashed over.
 * Object keys sorted by code unit, no whitespace, numbers in JavaScript's shortest round-trip form.
 * Values that JSON cannot say exactly (NaN, Infinity, undefined, functions) are refused rather than
 * silently changed, because a silently changed value would be a silently wrong key.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function canonicalJson(value: unknown): string {
  return write(value, "$");
}

function write(value: unknown, path: string): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value))
        throw new TypeError(`canonical JSON: ${path} is ${value}, which JSON cannot represent`);
      return Object.is(value, -0) ? "0" : JSON.stringify(value);
    case "string":
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value))
        return `[${value.map((v, i) => write(v, `${path}[${i}]`)).join(",")}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(
          `canonical JSON: ${path} is a ${proto?.constructor?.name ?? "object"}, not a plain object`,
        );
      }
      const entries = Object.keys(value as object)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map(
          (k) =>
            `${JSON.stringify(k)}:${write((value as Record<string, unknown>)[k], `${path}.${k}`)}`,
        );
      return `{${entries.join(",")}}`;
    }
    default:
      throw new TypeError(`canonical JSON: ${path} is ${typeof value}`);
  }
}
