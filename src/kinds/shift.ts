import { UserError } from "../core/diagnostic.js";
import { defineKind, isBundle } from "../stages/kind.js";
import { p } from "../stages/schema.js";
import type { SequenceSet } from "../artifacts/sequences.js";
import type { ShiftReport } from "../artifacts/shift.js";
import { shiftOf } from "../evaluation/shift.js";

export const shift = defineKind({
  name: "shift",
  version: 1,
  doc: "Measures how far each test set is from the training data, before any model: per numeric feature the population stability index (PSI, over the training data's quantile bins) and the two-sample Kolmogorov-Smirnov statistic; for token sequences the out-of-vocabulary rate, the length distribution and the token frequencies; the label (or target) distribution. Sets and features are ranked by shift, so a model's fall on a set can be read against what moved.",
  params: {
    bins: p.int("PSI: quantile bins of the reference's values.", { min: 2, max: 1000 }).default(10),
  },
  inputs: {
    reference: { type: "sequences", doc: "The data the model learns from, e.g. seqs.train." },
    data: {
      type: "sequences",
      doc: "The sets to compare with it: one, or several named, `{inDomain: seqs.test, otherVoices: voices.test}`.",
      named: true,
    },
  },
  outputs: ["out"],
  outputType: "shift",
  random: false,
  backendDependent: false,
  run(ctx, inputs, params): { out: ShiftReport } {
    const { reference } = inputs;
    const sets: [string, SequenceSet][] = isBundle(inputs.data)
      ? [...inputs.data]
      : [["data", inputs.data]];
    const cache: { features?: Float64Array[] } = {};
    const measured = sets.map(([name, set], i) => {
      compatible(reference, set, name);
      ctx.progress(i + 1, sets.length, "sets");
      return shiftOf(name, reference, set, params.bins, cache);
    });
    return {
      out: {
        type: "shift",
        n: reference.shape[0] ?? 0,
        sets: measured.sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : 1)),
      },
    };
  },
});

/** The set must hold the same kind of sequences as the reference: same input, same width. */
function compatible(reference: SequenceSet, set: SequenceSet, name: string): void {
  const width = (s: SequenceSet) => (s.input === "features" ? s.shape[2] : undefined);
  if (set.input !== reference.input || width(set) !== width(reference))
    throw new UserError(
      `set "${name}" holds ${set.input}${width(set) !== undefined ? ` of ${width(set)} features` : ""}, the reference ${reference.input}${width(reference) !== undefined ? ` of ${width(reference)} features` : ""}`,
      { hint: "encode every set with the stage (and vocabulary) the reference was encoded with" },
    );
}
