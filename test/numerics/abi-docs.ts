// The kernels' argument tables as kernels/rnn.ts shows them above each kernel, rendered from the ABI
// (src/numerics/fused/abi.ts); abi.test.ts compares the two.
import { type Arg, KERNELS, type KernelName } from "../../src/numerics/fused/abi.js";

/** One line per argument: name, shape (or type), role (and when it is there), what it holds. */
export function argumentTable(name: KernelName): string[] {
  const args = KERNELS[name].args as readonly Arg[];
  const cells = args.map((a) =>
    a.type === "ptr"
      ? [a.name, `[${a.shape.join(", ")}]`, `${a.role}${a.when ? ` if ${a.when}` : ""}`, a.doc]
      : [a.name, a.type, "", a.doc],
  );
  const widths = [0, 1, 2].map((i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) =>
    c
      .map((text, i) => (i < 3 ? text.padEnd(widths[i]!) : text))
      .join("  ")
      .trimEnd(),
  );
}

/** The table as it sits in the kernel's doc comment. */
export function argumentBlock(name: KernelName): string {
  return [" * Arguments:", ...argumentTable(name).map((l) => ` *   ${l}`)].join("\n");
}
