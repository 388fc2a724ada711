import { UserError } from "../core/diagnostic.js";
import type { Json } from "../core/canonical.js";
import type { TrainedData, Transfer, WeightSpec } from "../artifacts/model.js";
import { LAYERS } from "./layers/index.js";

/**
 * Starting a model from another's weights (train's `init`): Keras's `load_weights(by_name=True)`,
 * with rnnp's guarantees. Weights are matched by name (layer names are fixed, `lstm_2`) and shape; a
 * weight of the same name and another shape is an error naming both, never skipped silently; an
 * embedding may grow (an extended vocabulary keeps every id, so its first rows are the old ones);
 * and what the weights mean must agree: the embedding's ids the same tokens, the head's outputs the
 * same classes.
 */

interface Weighted {
  topology: Json;
  weightSpecs: readonly WeightSpec[];
  weights: readonly Float32Array[];
}

/** The layers of a stored topology, in order: their names and TF.js classes; and the output layer. */
export function topologyLayers(topology: Json): { layers: Map<string, string>; output?: string } {
  const config = (topology as { config?: { layers?: unknown; output_layers?: unknown } })?.config;
  const list = Array.isArray(config?.layers) ? (config.layers as Record<string, unknown>[]) : [];
  const layers = new Map<string, string>();
  for (const entry of list) {
    const name = (entry.name ?? (entry.config as { name?: unknown } | undefined)?.name) as unknown;
    if (typeof name === "string" && typeof entry.class_name === "string")
      layers.set(name, entry.class_name);
  }
  const outputs = config?.output_layers;
  const output = Array.isArray(outputs)
    ? ((outputs[0] as unknown[] | undefined)?.[0] as string | undefined)
    : [...layers.keys()].at(-1);
  return { layers, ...(output !== undefined ? { output } : {}) };
}

const layerOf = (weight: string) => weight.split("/")[0]!;

/** Layers with weights in both models, by name. */
export function sharedLayers(target: Weighted, source: Weighted): string[] {
  const theirs = new Set(source.weightSpecs.map((s) => layerOf(s.name)));
  return [...new Set(target.weightSpecs.map((s) => layerOf(s.name)))].filter((l) => theirs.has(l));
}
const roleOf = (weight: string) => weight.split("/").at(-1)!;
const shapeText = (s: readonly number[]) => `[${s.join(", ")}]`;

export interface TransferResult {
  weights: Float32Array[];
  transfer: Omit<Transfer, "frozen" | "optimizer">;
}

/**
 * The target's weights with the source's where names match: equal shapes are copied, a growing
 * weight (an embedding's rows) takes the source's rows, anything else of the same name is an error.
 * Layers in `reinit` keep their own. Every mismatch is reported at once.
 */
export function transferWeights(
  target: Weighted,
  source: Weighted,
  reinit: ReadonlySet<string>,
): TransferResult {
  const classes = topologyLayers(target.topology).layers;
  const from = new Map(source.weightSpecs.map((s, i) => [s.name, i]));
  const taken = new Set<string>();
  const kept = new Set<string>();
  const grown: Transfer["grown"] = [];
  const mismatches: string[] = [];
  const weights = target.weightSpecs.map((spec, i) => {
    const own = target.weights[i]!;
    const layer = layerOf(spec.name);
    const j = from.get(spec.name);
    if (reinit.has(layer) || j === undefined) {
      kept.add(layer);
      return own;
    }
    const theirs = source.weights[j]!;
    const shape = source.weightSpecs[j]!.shape;
    if (shape.length === spec.shape.length && shape.every((d, k) => d === spec.shape[k])) {
      taken.add(layer);
      return theirs;
    }
    const grows = LAYERS.ofClass(classes.get(layer) ?? "")?.grows?.includes(roleOf(spec.name));
    const rowsGrow =
      grows &&
      shape.length === spec.shape.length &&
      shape[0]! <= spec.shape[0]! &&
      shape.every((d, k) => k === 0 || d === spec.shape[k]);
    if (rowsGrow) {
      const out = Float32Array.from(own);
      out.set(theirs);
      taken.add(layer);
      grown.push({ layer, rows: shape[0]!, of: spec.shape[0]! });
      return out;
    }
    mismatches.push(
      `${spec.name} is ${shapeText(spec.shape)} in this model and ${shapeText(shape)} in init's`,
    );
    return own;
  });
  if (mismatches.length) {
    const layers = [...new Set(mismatches.map((m) => layerOf(m)))];
    throw new UserError(`init's weights do not fit this model: ${mismatches.join("; ")}`, {
      hint: `give the layers the same sizes, or keep their own initial weights with reinit: [${layers.map((l) => JSON.stringify(l)).join(", ")}]`,
    });
  }
  if (taken.size === 0)
    throw new UserError(
      `init shares no layer with this model (init's: ${[...new Set(source.weightSpecs.map((s) => layerOf(s.name)))].join(", ")}; this model's: ${[...new Set(target.weightSpecs.map((s) => layerOf(s.name)))].join(", ")})`,
      {
        hint: "weights are matched by layer name: build the model with the same layers in the same places",
      },
    );
  for (const l of taken) kept.delete(l);
  return {
    weights,
    transfer: { taken: [...taken], grown, initialised: [...kept] },
  };
}

/**
 * What the transferred weights mean must agree with the data: an embedding taken from init reads
 * ids that must be the same tokens (its rows are theirs), and a head taken from init gives outputs
 * that must be the same classes (or target tokens).
 */
export function checkMeaning(
  target: { topology: Json; data: TrainedData },
  source: { data: TrainedData },
  taken: readonly string[],
): void {
  const { layers, output } = topologyLayers(target.topology);
  const tokensOf = (d: TrainedData, layer: string): string[] | undefined =>
    // A seq2seq decoder's embedding reads target tokens; every other embedding the input's.
    layer === "dec_embedding"
      ? "tokens" in d.target
        ? d.target.tokens
        : undefined
      : d.text?.tokens;
  for (const layer of taken) {
    if (layers.get(layer) === "Embedding") {
      const mine = tokensOf(target.data, layer);
      const theirs = tokensOf(source.data, layer);
      if (!mine || !theirs) continue;
      const i = theirs.findIndex((tok, id) => mine[id] !== tok);
      if (i >= 0)
        throw new UserError(
          `${layer}'s rows do not line up with this data's ids: id ${i} is ${JSON.stringify(theirs[i])} in the vocabulary init was trained with, ${mine[i] === undefined ? "missing" : JSON.stringify(mine[i])} here`,
          {
            hint: `build this data's vocabulary with vocabulary(..., extend: <init's vocabulary>), which keeps every id, or reinit: ["${layer}"]`,
          },
        );
    }
    if (layer === output) {
      const name = (d: TrainedData) =>
        d.target.kind === "class"
          ? d.target.classes
          : "tokens" in d.target
            ? d.target.tokens
            : undefined;
      const mine = name(target.data);
      const theirs = name(source.data);
      if (mine && theirs && mine.join("\0") !== theirs.join("\0"))
        throw new UserError(
          `${layer} gives init's outputs (${theirs.slice(0, 8).join(", ")}${theirs.length > 8 ? ", ..." : ""}), but this data's are (${mine.slice(0, 8).join(", ")}${mine.length > 8 ? ", ..." : ""})`,
          { hint: `train a new head: reinit: ["${layer}"]` },
        );
    }
  }
}
