import { UserError } from "../core/diagnostic.js";
import { createRequire } from "node:module";
import { join } from "node:path";
import { readPackageJson } from "../core/find-up.js";
import { FUSED_OPS_VERSION, kernelsDigest } from "./kernels-build.js";

/**
 * Which numeric backend computes, described without loading TensorFlow.js: planning and `status`
 * must stay fast, yet every backend-dependent key needs the backend's exact identity.
 *
 * - `wasm`: @tensorflow/tfjs-backend-wasm, shipped in its npm package. With SIMD and without, it gives
 *   different bytes, so the descriptor says which (SIMD is used when the engine validates SIMD code).
 * - `cpu`: TF.js's pure-JavaScript backend: slower, everywhere.
 * - `tensorflow`: native TensorFlow through the optional peer @tensorflow/tfjs-node.
 */
export const BACKENDS = ["wasm", "cpu", "tensorflow"] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * Who computes recurrent layers: rnnp's fused kernels (WebAssembly, the same on every backend), or
 * TF.js's own cells step by step. The two give different bytes.
 */
export const KERNELS = ["fused", "tfjs"] as const;
export type KernelsName = (typeof KERNELS)[number];

/**
 * With rnnp's kernels on (the runtime's `kernels`), products with a transposed operand: TF.js's wasm
 * BatchMatMul runs those at about 3 GFLOP/s, ten times slower than without a transpose (XNNPACK),
 * and every dense layer's gradient has them. The transpose is materialised first (a copy), then the
 * fast path runs. Named in the runtime's `kernels` (it changes bytes), so off with `--kernels tfjs`.
 */
export const WASM_MATMUL_PATCH = "matmul-t 1";

/** TensorFlow.js as a type only: naming it loads nothing. */
export type TF = typeof import("./tfjs.js");

export interface Runtime {
  backend: string;
  version: string;
  /**
   * With rnnp's kernels: "rnnp-fused <digest of the compiled kernels>, ops <version of the TF.js ops
   * around them>", and on wasm the version of rnnp's patch to TF.js's matrix products. Absent with
   * TF.js's cells (`--kernels tfjs`).
   */
  kernels?: string;
}

/** "wasm-simd (tfjs 4.22.0, ...), rnnp-fused 1a2b..." for messages. */
export function runtimeText(rt: Runtime): string {
  return `${rt.backend} ${rt.version}${rt.kernels ? `, ${rt.kernels}` : ""}`;
}

/** Made on first use: a command that describes no runtime (most but `run`) need not pay for it. */
let require: NodeJS.Require | undefined;

/**
 * The version of the package `require(name)` would load: the package.json in the first
 * node_modules folder up from here that holds it, the folders Node's resolution walks. (Resolving
 * its entry point, then finding the package's root above it, cost every command about 1 ms.)
 */
function packageVersion(name: string): string | undefined {
  require ??= createRequire(import.meta.url);
  for (const dir of require.resolve.paths(name) ?? []) {
    const pkg = readPackageJson(join(dir, name));
    if (pkg?.name === name) return pkg.version;
  }
  return undefined;
}

/** The smallest module using a SIMD instruction (i8x16.splat); validating it tells whether SIMD is there. */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15,
  253, 98, 11,
]);

export function wasmSimdAvailable(): boolean {
  try {
    const wasm = (globalThis as { WebAssembly?: { validate(b: Uint8Array): boolean } }).WebAssembly;
    return wasm?.validate(SIMD_PROBE) ?? false;
  } catch {
    return false;
  }
}

export class RuntimeUnavailable extends UserError {
  constructor(message: string, hint: string) {
    super(message, { code: "no-runtime", hint });
  }
}

/** The runtime a backend name stands for on this machine; throws RuntimeUnavailable with a hint when it cannot run here. */
export function describeRuntime(name: string, kernels: KernelsName = "fused"): Runtime {
  const rt = describeBackend(name);
  if (kernels === "tfjs") return rt;
  const digest = kernelsDigest();
  if (!digest)
    throw new RuntimeUnavailable(
      "rnnp's fused recurrent kernels are not built",
      'build them (npm run build), or use TF.js\'s cells: --kernels tfjs, or the setting kernels "tfjs"',
    );
  return {
    ...rt,
    kernels: `rnnp-fused ${digest}, ops ${FUSED_OPS_VERSION}${rt.backend.startsWith("wasm") ? `, ${WASM_MATMUL_PATCH}` : ""}`,
  };
}

function describeBackend(name: string): Runtime {
  const core = packageVersion("@tensorflow/tfjs-core");
  if (!core)
    throw new RuntimeUnavailable(
      "TensorFlow.js (@tensorflow/tfjs-core) is not installed",
      "reinstall rnnp's dependencies: npm install",
    );
  switch (name as BackendName) {
    case "wasm": {
      const wasm = packageVersion("@tensorflow/tfjs-backend-wasm");
      if (!wasm)
        throw new RuntimeUnavailable(
          "@tensorflow/tfjs-backend-wasm is not installed",
          "reinstall rnnp's dependencies: npm install",
        );
      return {
        backend: wasmSimdAvailable() ? "wasm-simd" : "wasm",
        version: `tfjs ${core}, backend-wasm ${wasm}`,
      };
    }
    case "cpu":
      return { backend: "cpu", version: `tfjs ${core}` };
    case "tensorflow": {
      const node = packageVersion("@tensorflow/tfjs-node");
      if (!node) {
        throw new RuntimeUnavailable(
          "the `tensorflow` backend needs the optional package @tensorflow/tfjs-node, which is not installed",
          'install it where the network allows its native download (npm install @tensorflow/tfjs-node@4.22.0), or use backend "wasm"',
        );
      }
      return { backend: "tensorflow", version: `tfjs ${core}, tfjs-node ${node}` };
    }
    default:
      throw new RuntimeUnavailable(`unknown backend "${name}"`, `one of ${BACKENDS.join(", ")}`);
  }
}
