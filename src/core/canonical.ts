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
      // Built by concatenation (no array of entries to join): keys hash every stage of every run.
      let out = "{";
      for (const k of Object.keys(record).sort()) {
        const v = record[k];
        if (v === undefined) continue;
        if (out.length > 1) out += ",";
        at.push(k);
        out += `${JSON.stringify(k)}:${write(v, at)}`;
        at.pop();
      }
      return `${out}}`;
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

const enumerable = Object.prototype.propertyIsEnumerable;

/**
 * Whether two values certainly have the same canonical JSON, found without writing it: plain
 * objects with the same keys (in any order) and equal values, arrays item by item, equal finite
 * numbers (0 and -0 alike, as canonical JSON writes them), strings, booleans and nulls. Anything
 * else (undefined, NaN, a class instance, a hole) answers false, so a caller that then writes and
 * compares the canonical JSON loses time, never correctness. Recursive: for values whose depth is
 * bounded (a fingerprint the planner built, a record whose depth was checked).
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" || a === null)
    return a === b && a !== undefined && (typeof a !== "number" || Number.isFinite(a));
  if (typeof b !== "object" || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++)
      if (!(i in a) || !(i in b) || !sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || !plain(a) || !plain(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys)
    if (
      !enumerable.call(b, k) ||
      !sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
    )
      return false;
  return true;
}

function plain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
