// The native add-on as the native kernels' tests see it: loaded (or why not), the reason their
// suites skip where it is not built, and TF.js's wasm backend with the kernels running natively.
import assert from "node:assert/strict";
import { kernels } from "../../src/numerics/fused/kernels.js";
import { loadAddon } from "../../src/numerics/fused/native.js";
import { loadTf, type TF } from "../../src/numerics/tf.js";
import { describeRuntime } from "../../src/runtime/descriptor.js";
import { kernelsDigest } from "../../src/runtime/kernels-build.js";
import { ROOT } from "../helpers.js";

export const addon = loadAddon(ROOT, kernelsDigest());
export const skip: string | false =
  "reason" in addon ? `rnnp's native kernels are ${addon.reason}` : false;

/** TF.js on its wasm backend, once the process's fused kernels run natively and offer `helper`. */
export async function wasmWithNative(helper: "adam" | "sumSquares"): Promise<TF> {
  const tf = await loadTf(describeRuntime("wasm"));
  assert.ok(kernels()[helper], `the kernels run as ${kernels().describe()}`);
  return tf;
}
