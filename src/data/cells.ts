/**
 * A loader's cells, one field at a time, and how a cell reads as a number. A numeric column gathered
 * as strings costs a string per cell (at 10^6 rows of "9.234", 33 MiB of a 59 MiB table) until the
 * table is built; `FieldCells` keeps such a field as the numbers buildTable would read from it.
 */
import { grown } from "../core/grown.js";

/** A number as a table reads one: optional sign, digits with an optional point, an exponent. */
export const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
/** Cells that mean "no value": NaN in a numeric column. */
export const MISSING: ReadonlySet<string> = new Set(["", "NA", "NaN", "nan", "null", "NULL"]);

/**
 * The value a cell of a numeric column has (NaN where it is missing), or undefined where the cell
 * is not one buildTable reads as a number (a word, or a number too large for a double).
 */
export function numberOf(cell: string): number | undefined {
  if (MISSING.has(cell)) return Number.NaN;
  if (!NUMBER.test(cell.trim())) return undefined;
  const n = Number(cell);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * One field's cells in order: as numbers while every cell so far reads as one (with the text of
 * the few whose `String(number)` is not their text: "0.50", " 7", "NA"), as strings from the first
 * cell that does not on (or once such texts are a quarter of the cells). Either way `texts()` gives
 * back every cell's text as it was.
 */
export class FieldCells {
  private numbers: Float64Array | undefined = new Float64Array(16);
  /** Row -> its text, where String(its number) would not give it back. */
  private spelled = new Map<number, string>();
  /** Cells that are not missing, while numeric. */
  private present = 0;
  private strings: string[] = [];
  length = 0;

  push(cell: string): void {
    const n = this.numbers ? numberOf(cell) : undefined;
    if (n === undefined) {
      if (this.numbers) this.toStrings();
      this.strings.push(cell);
      this.length++;
      return;
    }
    let numbers = this.numbers!;
    if (this.length === numbers.length)
      this.numbers = numbers = grown(numbers, this.length, this.length + 1);
    numbers[this.length] = n;
    if (Number.isNaN(n) || String(n) !== cell) this.spelled.set(this.length, cell);
    if (!MISSING.has(cell)) this.present++;
    this.length++;
    // Numbers written otherwise than String() writes them ("12.30" in a column of two decimals)
    // each cost an entry and their text: past a quarter of the cells, strings alone cost less.
    if (this.length >= 256 && this.spelled.size * 4 > this.length) this.toStrings();
  }

  /** From here on, strings: every cell so far as its text. */
  private toStrings(): void {
    this.strings = this.texts();
    this.numbers = undefined;
    this.spelled = new Map();
  }

  /** Every cell's text, in order (made anew from the numbers while the field is numeric). */
  texts(): string[] {
    const numbers = this.numbers;
    if (!numbers) return this.strings;
    const out = new Array<string>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.spelled.get(i) ?? String(numbers[i]);
    return out;
  }

  /**
   * The cells as buildTable reads a numeric column (missing ones NaN), when every cell reads as a
   * number and at least one is present: what it would infer as a numeric column.
   */
  values(): Float64Array | undefined {
    return this.numbers && this.present > 0 ? this.numbers.slice(0, this.length) : undefined;
  }
}
