import type { Numeric, Value } from "../core/codec.js";

/**
 * Where two artifacts differ, for `rnnp check`: the first differing field (a path such as
 * `columns[2].values`), and for numeric arrays the first differing index, how many elements
 * differ and the largest absolute difference: enough to tell float noise from a real bug.
 */
export interface Difference {
  path: string;
  detail: string;
  firstIndex?: number;
  differing?: number;
  maxAbsDiff?: number;
}

export function firstDifference(a: Value, b: Value, path = "$"): Difference | undefined {
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b))
      return { path, detail: "one side is a numeric array, the other not" };
    return numericDifference(a as Numeric, b as Numeric, path);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b))
      return { path, detail: "one side is a list, the other not" };
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = firstDifference(a[i]!, b[i]!, `${path}[${i}]`);
      if (d) return d;
    }
    return a.length === b.length
      ? undefined
      : { path, detail: `lengths ${a.length} and ${b.length}` };
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (!(k in a) || !(k in b))
        return { path: `${path}.${k}`, detail: `present on one side only` };
      const d = firstDifference(
        (a as Record<string, Value>)[k]!,
        (b as Record<string, Value>)[k]!,
        `${path}.${k}`,
      );
      if (d) return d;
    }
    return undefined;
  }
  if (Object.is(a, b) || a === b) return undefined;
  if (typeof a === "number" && typeof b === "number")
    return { path, detail: `${a} vs ${b}`, maxAbsDiff: Math.abs(a - b) };
  return { path, detail: `${JSON.stringify(a)} vs ${JSON.stringify(b)}` };
}

function numericDifference(a: Numeric, b: Numeric, path: string): Difference | undefined {
  if (a.constructor !== b.constructor)
    return { path, detail: `${a.constructor.name} vs ${b.constructor.name}` };
  if (a.length !== b.length) return { path, detail: `lengths ${a.length} and ${b.length}` };
  let first = -1;
  let differing = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    if (first < 0) first = i;
    differing++;
    max = Math.max(max, Math.abs(x - y));
  }
  if (first < 0) return undefined;
  return {
    path,
    detail: `element ${first}: ${a[first]} vs ${b[first]}`,
    firstIndex: first,
    differing,
    maxAbsDiff: max,
  };
}
