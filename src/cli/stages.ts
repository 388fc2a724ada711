import type { StageRecord } from "../cache/record.js";
import type { StageKey } from "../core/digest.js";
import type { Fingerprint } from "../plan/fingerprint.js";
import { didYouMean } from "../lang/suggest.js";
import { parseVariantName, sameValues } from "../lang/sweep.js";
import type { Planner } from "../plan/planner.js";
import { EXIT, Exit } from "./exit.js";

/** Stages named on the command line: lists of them, a swept stage's variants, one built stage. */

/** `a,b,fit@units=64+lr=0.003`: split on commas, but not those inside an old-style variant's brackets. */
export function splitList(s: string): string[] {
  return (s.match(/(?:[^,[]|\[[^\]]*\])+/g) ?? []).map((x) => x.trim()).filter(Boolean);
}

/** Stage names as given on the command line: a swept stage's base name (`fit`) stands for all its variants. */
export function checkNames(planner: Planner, names: string[], flag: string): string[] {
  const known = planner.order.map((s) => s.name);
  return names.flatMap((n) => {
    if (known.includes(n)) return [n];
    const typed = parseVariantName(n);
    const match = typed
      ? planner.order.find(
          (s) => s.variant?.of === typed.of && sameValues(s.variant.values, typed.values),
        )
      : undefined;
    if (match) return [match.name];
    const variants = planner.order.filter((s) => s.variant?.of === n).map((s) => s.name);
    if (variants.length) return variants;
    const hint = didYouMean(n, [
      ...known,
      ...new Set(planner.order.flatMap((s) => (s.variant ? [s.variant.of] : []))),
    ]);
    throw new Exit(
      EXIT.invalid,
      `${flag} ${n}: no such stage in ${planner.ir.file}${hint ? ` (${hint})` : ""}`,
    );
  });
}

/**
 * The one stage a command is about (`show`, `why`, `predict --stage`): a swept stage must be named
 * by one of its variants. It and everything upstream are keyed, so the command can compare inputs.
 */
export function oneStage(planner: Planner, name: string, flag: string): string {
  const [one, ...more] = checkNames(planner, [name], flag);
  if (more.length)
    throw new Exit(
      EXIT.invalid,
      `\`${name}\` is swept: name one of its variants (${[one, ...more].join(", ")})`,
    );
  for (const s of planner.closure([one!])) planner.resolve(s.name);
  return one!;
}

/** One stage, as `oneStage`, that must be built: its key and cache record. */
export function builtStage(
  planner: Planner,
  name: string,
  flag: string,
): { stage: string; key: StageKey; record: StageRecord<Fingerprint> } {
  const stage = oneStage(planner, name, flag);
  const res = planner.resolve(stage);
  if (res.state !== "keyed" || !res.record)
    throw new Exit(
      EXIT.failed,
      `\`${stage}\` is not built; run \`rnnp run ${planner.ir.file} --stage ${stage}\` first`,
    );
  return { stage, key: res.key, record: res.record };
}

/**
 * The stage and pipeline file of `VERB STAGE [FILE]` or `VERB -s STAGE [FILE]`: one way to name the
 * stage (`-s/--stage`) accepted by every verb about stages, the positional kept where verbs had it.
 */
export function stageAndFile(
  first: string | undefined,
  second: string | undefined,
  option: string | undefined,
  verb: string,
): { stage: string; file: string | undefined } {
  if (option === undefined) {
    if (first === undefined)
      throw new Exit(EXIT.invalid, `${verb}: name a stage: rnnp ${verb} STAGE [FILE], or -s STAGE`);
    return { stage: first, file: second };
  }
  if (second !== undefined || first === option) {
    if (first !== option)
      throw new Exit(
        EXIT.invalid,
        `${verb}: the stage is named twice (\`${first}\` and -s \`${option}\`); name it once`,
      );
    return { stage: option, file: second };
  }
  return { stage: option, file: first };
}
