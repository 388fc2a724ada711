import type { Value } from "../core/codec.js";
import { describeFiles, type FileSet } from "./files.js";
import {
  describeModel,
  describeTrained,
  type ModelInfo,
  type ModelSpec,
  type TrainedModel,
} from "./model.js";
import { describeReport, type Report } from "./report.js";
import { describeSequences, type SequenceInfo, type SequenceSet } from "./sequences.js";
import { describeTable, type Table, type TableInfo } from "./table.js";
import { describeVocabulary, type Vocabulary } from "./vocabulary.js";

/**
 * Every artifact type rnnp knows. Artifacts are plain trees of JSON values and typed arrays, which
 * the codec writes canonically as they are; each type adds a one-line description for `cache ls`.
 * Adding a type is one entry here.
 */
export interface ArtifactTypes {
  table: Table;
  vocabulary: Vocabulary;
  sequences: SequenceSet;
  model: ModelSpec;
  trained: TrainedModel;
  report: Report;
  files: FileSet;
}

export type ArtifactTypeName = keyof ArtifactTypes;
export type Artifact = ArtifactTypes[ArtifactTypeName];

/** What can be known of an artifact before it exists, by type (see KindDef.describe). */
export interface ArtifactInfos {
  table: TableInfo;
  sequences: SequenceInfo;
  model: ModelInfo;
}
export type ArtifactInfo = ArtifactInfos[keyof ArtifactInfos];
/** The info of an artifact type; never for types of which nothing is known in advance. */
export type InfoOf<T extends ArtifactTypeName> = T extends keyof ArtifactInfos
  ? ArtifactInfos[T]
  : never;

const describe: { [K in ArtifactTypeName]: (a: ArtifactTypes[K]) => string } = {
  table: describeTable,
  vocabulary: describeVocabulary,
  sequences: describeSequences,
  model: describeModel,
  trained: describeTrained,
  report: describeReport,
  files: describeFiles,
};

export function artifactToValue(a: Artifact): Value {
  return a as unknown as Value;
}

export function artifactFromValue(v: Value): Artifact {
  const t = (v as { type?: unknown })?.type;
  if (typeof t !== "string" || !Object.hasOwn(describe, t))
    throw new Error(`unknown artifact type ${JSON.stringify(t)}`);
  return v as unknown as Artifact;
}

export function describeArtifact(a: Artifact): string {
  return (describe[a.type] as (x: Artifact) => string)(a);
}
