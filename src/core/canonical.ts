/**
 * Canonical JSON: the one text form of a JSON value that keys and artifact headers are hashed over.
 * Object keys sorted by code unit, no whitespace, numbers in JavaScript's shortest round-trip form.
 * Values that JSON cannot say exactly (NaN, Infinity, undefined, functions) are refused rather than
 * silently changed, because a silently changed value would be a silently wrong key.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  writeCanonicalJson(value, (s) => parts.push(s));
  return parts.join("");
}

/**
 * The canonical JSON of `value` as a run of pieces, in order, for writers that must not hold the
 * whole text at once (an artifact header holding a million strings): a long list of scalars comes
 * in pieces of a few thousand items.
 */
export function writeCanonicalJson(value: unknown, emit: (piece: string) => void): void {
  write(value, [], emit);
}

/** Items of a list of scalars spelled per piece: bounded temporary text, few native calls. */
const SCALARS_PER_PIECE = 4096;

/**
 * `at` is the path from the root, kept as a stack of keys and indices: the "$.a.b[2]" of a
 * message is spelled only when a value is refused, never for every value written (keys hash large
 * records on every run).
 */
function write(value: unknown, at: (string | number)[], emit: (piece: string) => void): void {
  if (value === null) {
    emit("null");
    return;
  }
  switch (typeof value) {
    case "boolean":
      emit(value ? "true" : "false");
      return;
    case "number":
      if (!Number.isFinite(value))
        throw new TypeError(
          `canonical JSON: ${pathOf(at)} is ${value}, which JSON cannot represent`,
        );
      emit(Object.is(value, -0) ? "0" : JSON.stringify(value));
      return;
    case "string":
      emit(JSON.stringify(value));
      return;
    case "object": {
      if (Array.isArray(value)) {
        // A list of plain scalars (a table's column of strings: a million of them) is what
        // JSON.stringify writes, byte for byte, in one native pass per piece and without a string
        // per item.
        if (allScalars(value)) {
          writeScalars(value, emit);
          return;
        }
        emit("[");
        for (let i = 0; i < value.length; i++) {
          if (i > 0) emit(",");
          at.push(i);
          write(value[i], at, emit);
          at.pop();
        }
        emit("]");
        return;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(
          `canonical JSON: ${pathOf(at)} is a ${proto?.constructor?.name ?? "object"}, not a plain object`,
        );
      }
      const record = value as Record<string, unknown>;
      emit("{");
      let first = true;
      for (const k of Object.keys(record).sort()) {
        if (record[k] === undefined) continue;
        emit(`${first ? "" : ","}${JSON.stringify(k)}:`);
        first = false;
        at.push(k);
        write(record[k], at, emit);
        at.pop();
      }
      emit("}");
      return;
    }
    default:
      throw new TypeError(`canonical JSON: ${pathOf(at)} is ${typeof value}`);
  }
}

function writeScalars(xs: readonly unknown[], emit: (piece: string) => void): void {
  if (xs.length <= SCALARS_PER_PIECE) {
    emit(JSON.stringify(xs));
    return;
  }
  emit("[");
  for (let i = 0; i < xs.length; i += SCALARS_PER_PIECE) {
    const piece = JSON.stringify(xs.slice(i, i + SCALARS_PER_PIECE));
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
