import type { Value } from "../../core/codec.js";
import { describeTable, tableFromValue, tableToValue, type Table } from "./table.js";

/**
 * Every artifact type rnnp knows: the TypeScript type a stage sees, and how it maps to the canonical
 * value tree the codec writes. Adding a type is one entry here.
 */
export interface ArtifactTypes {
  table: Table;
}

export type ArtifactTypeName = keyof ArtifactTypes;
export type Artifact = ArtifactTypes[ArtifactTypeName];

interface ArtifactCodec<T> {
  toValue(a: T): Value;
  fromValue(v: Value): T;
  describe(a: T): string;
}

export const artifactTypes: { [K in ArtifactTypeName]: ArtifactCodec<ArtifactTypes[K]> } = {
  table: { toValue: tableToValue, fromValue: tableFromValue, describe: describeTable },
};

export function artifactTypeOf(v: Value): ArtifactTypeName {
  const t = (v as { type?: unknown })?.type;
  if (typeof t === "string" && t in artifactTypes) return t as ArtifactTypeName;
  throw new Error(`unknown artifact type ${JSON.stringify(t)}`);
}
