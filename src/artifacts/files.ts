/** Files a stage writes outside the cache (an exported model), kept here so they can be restored exactly. */
export interface FileSet {
  type: "files";
  dir: string;
  files: Record<string, Uint8Array>;
}

export function describeFiles(f: FileSet): string {
  return `${Object.keys(f.files).length} files for ${f.dir}: ${Object.entries(f.files)
    .map(([n, b]) => `${n} (${b.byteLength} B)`)
    .join(", ")}`;
}
