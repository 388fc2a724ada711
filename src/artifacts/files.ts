/** Files a stage writes outside the cache (an exported model), kept here so they can be restored exactly. */
export interface FileSet {
  type: "files";
  dir: string;
  files: Record<string, Uint8Array>;
}

/**
 * Names in sorted order, the order the codec stores them in: a description made from the object a
 * stage built must equal the one made from its decoded bytes (imports and remote fetches check
 * that), whatever order the stage added the files in.
 */
export function describeFiles(f: FileSet): string {
  const names = Object.keys(f.files).sort();
  return `${names.length} files for ${f.dir}: ${names
    .map((n) => `${n} (${f.files[n]!.byteLength} B)`)
    .join(", ")}`;
}
