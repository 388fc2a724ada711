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
      // JSON's spelling of a finite number is its String (which writes -0 as "0").
      return String(value);
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
      const record = plainRecord(value, at);
      // Built by concatenation (no array of entries to join): keys hash every stage of every run.
      let out = "{";
      for (const k of Object.keys(record).sort()) {
        const v = record[k];
        if (v === undefined) continue;
        if (out.length > 1) out += ",";
        at.push(k);
        out += `${quotedKey(k)}:${write(v, at)}`;
        at.pop();
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON: ${pathOf(at)} is ${typeof value}`);
  }
}

/** Object keys as JSON strings: the few names of fingerprints and headers, quoted once each. */
const quotedKeys = new Map<string, string>();
const MAX_QUOTED_KEYS = 4096;

function quotedKey(k: string): string {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (quotedKeys.size < MAX_QUOTED_KEYS) quotedKeys.set(k, q);
  }
  return q;
}

function plainRecord(value: object, at: readonly (string | number)[]): Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(
      `canonical JSON: ${pathOf(at)} is a ${proto?.constructor?.name ?? "object"}, not a plain object`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * The canonical JSON of `value` as a run of pieces, in order, for a writer that must not hold the
 * whole text at once (an artifact header holding a million strings): objects and lists are spelled
 * piece by piece, and a long list of scalars `SCALARS_PER_PIECE` items at a time. The pieces join
 * to `canonicalJson(value)`.
 */
export function writeCanonicalJson(
  value: unknown,
  emit: (piece: string) => void,
  /** Lists of scalars to empty (items set to null) as they are written: their last use. */
  emptied?: ReadonlySet<readonly unknown[]>,
): void {
  writePieces(value, [], emit, emptied);
}

/** Items of a list of scalars spelled per piece: bounded temporary text, few native calls. */
const SCALARS_PER_PIECE = 4096;

function writePieces(
  value: unknown,
  at: (string | number)[],
  emit: (piece: string) => void,
  emptied: ReadonlySet<readonly unknown[]> | undefined,
): void {
  if (value === null || typeof value !== "object") {
    emit(write(value, at));
    return;
  }
  if (Array.isArray(value)) {
    if (allScalars(value)) {
      writeScalars(value, emit, emptied?.has(value) ? (value as unknown[]) : undefined);
      return;
    }
    emit("[");
    for (let i = 0; i < value.length; i++) {
      if (i > 0) emit(",");
      at.push(i);
      writePieces(value[i], at, emit, emptied);
      at.pop();
    }
    emit("]");
    return;
  }
  const record = plainRecord(value, at);
  let first = true;
  emit("{");
  for (const k of Object.keys(record).sort()) {
    const v = record[k];
    if (v === undefined) continue;
    emit(`${first ? "" : ","}${JSON.stringify(k)}:`);
    first = false;
    at.push(k);
    writePieces(v, at, emit, emptied);
    at.pop();
  }
  emit("}");
}

/** A list of scalars, piece by piece; `emptied` (the same list) loses each piece's items once spelled. */
function writeScalars(
  xs: readonly unknown[],
  emit: (piece: string) => void,
  emptied: unknown[] | undefined,
): void {
  if (xs.length <= SCALARS_PER_PIECE) {
    const piece = JSON.stringify(xs);
    emptied?.fill(null);
    emit(piece);
    return;
  }
  emit("[");
  for (let i = 0; i < xs.length; i += SCALARS_PER_PIECE) {
    const piece = JSON.stringify(xs.slice(i, i + SCALARS_PER_PIECE));
    emptied?.fill(null, i, i + SCALARS_PER_PIECE);
    emit(i === 0 ? piece.slice(1, -1) : `,${piece.slice(1, -1)}`);
  }
  emit("]");
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
