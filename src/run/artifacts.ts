import { UserError } from "../core/diagnostic.js";
import { decode, encode, parseSkipped, type Release, SkippedList } from "../core/codec.js";
import { digestOf, type Digest } from "../core/digest.js";
import type { CacheStore } from "../cache/store.js";
import type { OutputCheck, OutputRef } from "../cache/record.js";
import {
  artifactFromValue,
  artifactToValue,
  describeArtifact,
  type Artifact,
} from "../artifacts/index.js";
import {
  type Column,
  type ColumnReads,
  columnsRead,
  isColumnValues,
  isUnread,
  type Table,
  type TableHead,
  unreadColumn,
} from "../artifacts/table.js";

/** A blob that is missing or does not hash to its digest: never served, its producer reruns. */
export class BadBlobError extends UserError {
  constructor(
    readonly digest: Digest,
    readonly problem: "missing" | "corrupt",
  ) {
    super(`artifact ${digest.slice(0, 12)} is ${problem} in the cache`, {
      code: "cache-corrupt",
      hint: "run `rnnp cache verify`",
    });
  }
}

/** Which columns of a table to decode; the others are left unread (unreadColumn). */
export interface ColumnPick {
  /** Who reads, for the error a read of an unread column throws: "window's input `data`". */
  reader: string;
  columns(head: TableHead): ReadonlySet<string>;
}

/**
 * Reads an artifact, verifying its bytes against the digest before decoding them. The bytes are
 * read in place (LMDB's buffer, no copy) and decoded at once into values of their own (`borrowed`:
 * sections copied out), so nothing keeps them once this returns. With `pick`, a table's columns
 * other than those it picks are never parsed into values.
 */
export function readArtifact(store: CacheStore, digest: Digest, pick?: ColumnPick): Artifact {
  const artifact = store.withBlob(digest, (bytes, giveBack) => {
    if (digestOf(bytes) !== digest) throw new BadBlobError(digest, "corrupt");
    // The pages hashing touched, then those each stretch of parsing has read, are given back as it
    // goes (the decoded values and the blob's pages never peak together).
    giveBack(bytes.length);
    return decodeArtifact(bytes, { borrowed: true, ...(pick ? { pick } : {}), read: giveBack });
  });
  if (!artifact) throw new BadBlobError(digest, "missing");
  return artifact;
}

/**
 * An artifact's bytes decoded. With `pick`, every column's list of strings is first skipped (checked
 * and counted: the header holds the roles after the columns, so what is read is known only once it
 * is parsed), then the picked ones are parsed from the same bytes and the others left unread.
 */
export function decodeArtifact(
  bytes: Uint8Array,
  options: { borrowed?: boolean; pick?: ColumnPick; read?: (upTo: number) => void } = {},
): Artifact {
  const { pick, borrowed = false, read } = options;
  const told = read ? { read } : {};
  if (!pick) return artifactFromValue(decode(bytes, { borrowed, ...told }));
  const artifact = artifactFromValue(decode(bytes, { borrowed, skip: isColumnValues, ...told }));
  read?.(bytes.length); // every list was scanned: parsed again, only the picked ones come back
  settleColumns(artifact, bytes, pick, read);
  return artifact;
}

/**
 * In place, each column of a table `pick` picks parsed from the bytes its list was skipped in, any
 * other left unread (an artifact other than a table with such lists has them all parsed).
 */
function settleColumns(
  artifact: Artifact,
  bytes: Uint8Array,
  pick: ColumnPick,
  read?: (upTo: number) => void,
): void {
  const columns = (artifact as { columns?: unknown }).columns;
  if (!Array.isArray(columns)) return;
  const picked = artifact.type === "table" ? pick.columns(artifact) : undefined;
  columns.forEach((c: Column, i) => {
    const values = (c as { values?: unknown } | null)?.values;
    if (picked && !picked.has(c.name))
      columns[i] = unreadColumn(c, lengthOf(values as Column["values"] | SkippedList), pick.reader);
    else if (values instanceof SkippedList)
      c.values = parseSkipped(bytes, values, read) as string[];
  });
}

/** A column's row count, whether its list was parsed or skipped. */
function lengthOf(values: Column["values"] | SkippedList): number {
  return values instanceof SkippedList ? values.count : values.length;
}

/**
 * The artifacts of one input (a bundle's members, or the one) read with `read`, their tables' columns
 * limited to what `reads` names. A role names the column of that role in any of the input's tables
 * (window reads the fit part's label in every part), but each table is decoded before the next is
 * seen: one whose own roles left out a column the others' name (parts that disagree on their roles)
 * is read again.
 */
export function readInput(
  read: readonly ((pick?: ColumnPick) => Artifact)[],
  reads: ColumnReads | undefined,
  reader: string,
): Artifact[] {
  if (!reads) return read.map((r) => r());
  const first = read.map((r) => r({ reader, columns: (head) => columnsRead(reads, head) }));
  const tables = first.filter((a): a is Table => a.type === "table");
  return first.map((a, i) => {
    if (a.type !== "table") return a;
    const needed = columnsRead(reads, a, tables);
    return a.columns.some((c) => needed.has(c.name) && isUnread(c))
      ? read[i]!({ reader, columns: () => needed })
      : a;
  });
}

export interface EncodedArtifact {
  bytes: Uint8Array;
  ref: OutputRef;
}

/**
 * `release`: the artifact's last use (codec.ts's Release): its lists are emptied as written, so
 * everything else read from it (its summary) is read first.
 */
export function encodeArtifact(a: Artifact, release?: Release): EncodedArtifact {
  const summary = describeArtifact(a);
  const bytes = encode(artifactToValue(a), release);
  return {
    bytes,
    ref: { digest: digestOf(bytes), size: bytes.byteLength, type: a.type, summary },
  };
}

/**
 * An output's bytes against what its record says of them (for imports and remote fetches, where the
 * record comes from elsewhere): they decode to an artifact of the record's type, described by the
 * record's summary. The problem, or undefined.
 */
export const checkOutputBytes: OutputCheck = (bytes, ref) => {
  let artifact: Artifact;
  try {
    artifact = artifactFromValue(decode(bytes));
  } catch (e) {
    return `does not decode as an artifact (${(e as Error).message})`;
  }
  if (artifact.type !== ref.type)
    return `is a ${JSON.stringify(artifact.type)} artifact; its record says ${JSON.stringify(ref.type)}`;
  let summary: unknown;
  try {
    summary = describeArtifact(artifact);
  } catch (e) {
    return `is a malformed ${artifact.type} (${(e as Error).message})`;
  }
  if (summary !== ref.summary)
    return `is described as ${JSON.stringify(summary)}; its record says ${JSON.stringify(ref.summary)}`;
  return undefined;
};
