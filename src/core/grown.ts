/** The typed arrays that hold growing lists of numbers (row numbers, token ids, a column's cells). */
type Growable = Int32Array | Float64Array;

/**
 * `array`'s first `used` items in a new, larger array of its kind, of at least `atLeast` items and
 * at least twice as many as before: so that n pushes copy O(n) items in all.
 */
export function grown<A extends Growable>(array: A, used: number, atLeast: number): A {
  const next = new (array.constructor as new (length: number) => A)(
    Math.max(array.length * 2, atLeast),
  );
  next.set(array.subarray(0, used));
  return next;
}
