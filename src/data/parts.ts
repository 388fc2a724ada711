import { UserError } from "../core/diagnostic.js";
import type { Bundle } from "../stages/kind.js";

/**
 * The part of a split that statistics are fitted on (scaling, lengths, label classes): the one named
 * by `fit`, else "train" when there is one, else the only part.
 */
export function fitPart<T>(parts: Bundle<T>, fit: string | undefined, what: string): [string, T] {
  const name =
    fit ?? (parts.has("train") ? "train" : parts.size === 1 ? [...parts.keys()][0]! : undefined);
  if (name === undefined)
    throw new UserError(
      `${what} needs \`fit\` to name the part to fit on (one of ${[...parts.keys()].join(", ")}), so nothing leaks from the others`,
    );
  const part = parts.get(name);
  if (!part)
    throw new UserError(
      `fit: "${name}" is not a part of the input (parts: ${[...parts.keys()].join(", ")})`,
    );
  return [name, part];
}
