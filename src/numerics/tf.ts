import { createRequire } from "node:module";
import { dirname } from "node:path";
import { runtimeText, type Runtime } from "../runtime/descriptor.js";
import { patchWasmMatMul, registerWasmKernels } from "./wasm-kernels.js";

export type { TF } from "../runtime/descriptor.js";
import type { TF } from "../runtime/descriptor.js";

let loading: { runtime: string; tf: Promise<TF> } | undefined;

/**
 * Loads TensorFlow.js with the backend a runtime names, once per process. Only stages that compute
 * call this, so a fully cached run never loads TensorFlow.js. One runtime per process (the backend,
 * and whether rnnp's kernels patch it): a second, different request is a bug in the caller, not
 * something to switch silently.
 */
export function loadTf(runtime: Runtime): Promise<TF> {
  const wanted = runtimeText(runtime);
  if (loading) {
    if (loading.runtime !== wanted)
      throw new Error(
        `TensorFlow.js is already running as ${loading.runtime}; cannot switch to ${wanted} in one process`,
      );
    return loading.tf;
  }
  loading = { runtime: wanted, tf: quietly(() => init(runtime)) };
  return loading.tf;
}

async function init(runtime: Runtime): Promise<TF> {
  if (runtime.backend === "tensorflow") {
    const tf = (await import("@tensorflow/tfjs-node" as string)) as TF;
    await tf.setBackend("tensorflow");
    return tf;
  }
  const tf = await import("../runtime/tfjs.js");
  if (runtime.backend === "cpu") {
    await tf.setBackend("cpu");
  } else {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    const dist = dirname(
      createRequire(import.meta.url).resolve(
        "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
      ),
    );
    wasm.setWasmPaths(`${dist}/`);
    // The key says whether SIMD is used; make TF.js agree with it rather than detect on its own.
    tf.env().set("WASM_HAS_SIMD_SUPPORT", runtime.backend === "wasm-simd");
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    registerWasmKernels(tf);
    if (runtime.kernels) patchWasmMatMul(tf);
    if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend failed to initialise");
  }
  await tf.ready();
  tf.scalar(0).dispose(); // the cpu backend's greeting comes with its first tensor: have it here, silenced
  return tf;
}

/** TF.js greets Node users on stderr, recommending tfjs-node; rnnp chose its backend knowingly. */
function quietly<T>(fn: () => Promise<T>): Promise<T> {
  return muted((line) => line.includes("tfjs-node") || /^=+$/.test(line.trim()), fn, [
    "warn",
    "log",
  ]);
}

/**
 * A recurrent layer given its initial state as extra inputs (seq2seq decoders) makes TF.js warn,
 * whenever the model is serialised, that it cannot save those as keyword arguments. It need not:
 * the wiring is in the topology's inbound nodes, which is how such models load again.
 */
export const unsaveableKwargs = (line: string): boolean =>
  line.includes("non-serializable keyword arguments");

/** Runs fn with the console lines that `drop` matches silenced (until its promise settles). */
export function muted<T>(
  drop: (line: string) => boolean,
  fn: () => T,
  methods: ("warn" | "log")[] = ["warn"],
): T {
  const saved = methods.map((m) => [m, console[m]] as const);
  for (const [m, orig] of saved)
    console[m] = (...args: unknown[]) => void (drop(String(args[0] ?? "")) || orig(...args));
  const undo = () => saved.forEach(([m, orig]) => (console[m] = orig));
  let settlesLater = false;
  try {
    const out = fn();
    if (out instanceof Promise) {
      settlesLater = true;
      return out.finally(undo) as T;
    }
    return out;
  } finally {
    if (!settlesLater) undo();
  }
}
