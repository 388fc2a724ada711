import type { Tensor } from "../../runtime/tfjs.js";
import type { StepGradients } from "../flow.js";
import { UserError } from "../../core/diagnostic.js";
import { recordingGradients } from "../gradient-targets.js";
import type { TF } from "../tf.js";
import {
  backward,
  CELLS,
  forward,
  type CellKind,
  type Dims,
  type SequenceInputs,
} from "./cells.js";
import type { Kernels } from "./kernels.js";
import type { WasmBackend } from "../wasm-kernels.js";

export interface RecurrentArgs {
  /** [B, T, F] (dropout already applied). */
  x: Tensor;
  kernel: Tensor;
  recurrentKernel: Tensor;
  bias: Tensor;
  /** One [B, H] tensor per state; zeros when the layer was given none. */
  init: Tensor[];
  /** [B, T]; steps where it is 0 carry the state. */
  mask?: Float32Array;
  /** [B, H]: recurrent dropout's mask (training only). */
  recurrentDropout?: Float32Array;
  reverse: boolean;
  sequences: boolean;
  /** Whether the caller uses the final states (returnState): without, the op's value is the output alone. */
  withStates: boolean;
  /** Hears the gradient flow of every backward pass (the training loop's recorder), if set. */
  flow?: (g: StepGradients) => void;
  /**
   * False when x's gradient cannot be asked for (gradient-targets.ts: x is data): the backward pass
   * leaves it out, and the op gives an empty tensor in its place, which TF.js's tape would refuse
   * (a shape that is not x's) were the gradient asked for after all: an error, never a wrong gradient.
   */
  inputGradient?: boolean;
  /** The same for the initial states' gradients (false when they are zeros the layer made). */
  stateGradients?: boolean;
}

/**
 * A float32 tensor's values, for `forward` to copy into the kernels' memory at once: on the wasm
 * backend a view of where TF.js keeps them (dataSync would copy them first: half a megabyte a batch
 * on the reference workload), elsewhere dataSync. Used before any other TF.js op runs, as one may
 * move the backend's memory.
 */
function valuesOf(tf: TF, t: Tensor): Float32Array {
  if (t.dtype === "float32" && tf.getBackend() === "wasm")
    return (tf.backend() as unknown as WasmBackend).typedArrayFromHeap(t) as Float32Array;
  return t.dataSync() as Float32Array;
}

/**
 * `t`, a gradient the fused op gave, as a tensor whose own gradient is refused unless it is zero:
 * the kernels' gradients are values, not TF.js ops, so their second-order terms would otherwise be
 * silently missing. A zero one (e.g. through tf.sign, as adversarial training takes it) is exact.
 * Its inputs include the op's (`on`), so that the tape sees it depend on them.
 */
function firstOrderOnly(tf: TF, t: Tensor, on: Tensor[]): Tensor {
  const guarded = tf.customGrad((...args: unknown[]) => ({
    value: (args[0] as Tensor).clone(),
    gradFunc: (dy: Tensor) => {
      if ((dy.dataSync() as Float32Array).some((v) => v !== 0))
        throw new UserError(
          "second-order gradients through rnnp's fused recurrent kernels are not supported",
          { hint: "use TF.js's cells for this model: --kernels tfjs" },
        );
      return [t, ...on].map((input) => tf.zerosLike(input));
    },
  }));
  return (guarded as (...x: Tensor[]) => Tensor)(t, ...on);
}

/**
 * One recurrent layer over whole sequences, as a single TF.js op: forward in one kernel call and,
 * when gradients are wanted, backward in one more (`tf.customGrad`), so the tape holds one node per
 * layer instead of a dozen per step. With the final states wanted, the op's value packs the output
 * and the states along the time axis ([B, outputs + states, H]) because a custom gradient has one
 * output; `recurrent` unpacks (slices and reshapes, each an op on the tape). Without, its value is
 * the output itself and the states' gradients are zeros, as the unused slices' would be.
 */
export function recurrent(
  tf: TF,
  k: Kernels,
  kind: CellKind,
  a: RecurrentArgs,
  withGradient: boolean,
): { output: Tensor; states: Tensor[] } {
  const [B, T, F] = a.x.shape as [number, number, number];
  const H = a.recurrentKernel.shape[0]!;
  const d: Dims = { B, T, F, H };
  const nStates = CELLS[kind].states.length;
  const packs = a.withStates;
  const outSteps = a.sequences ? T : 1;
  const inputsOf = (
    x: Tensor,
    w: Tensor,
    u: Tensor,
    b: Tensor,
    init: Tensor[],
  ): SequenceInputs => ({
    x: valuesOf(tf, x),
    w: valuesOf(tf, w),
    u: valuesOf(tf, u),
    b: valuesOf(tf, b),
    init: init.map((s) => valuesOf(tf, s)),
    ...(a.mask ? { mask: a.mask } : {}),
    ...(a.recurrentDropout ? { recurrentDropout: a.recurrentDropout } : {}),
    reverse: a.reverse,
    sequences: a.sequences,
  });
  const pack = (output: Float32Array, states: Float32Array[]) => {
    if (!packs) return a.sequences ? tf.tensor3d(output, [B, T, H]) : tf.tensor2d(output, [B, H]);
    const packed = new Float32Array(B * (outSteps + nStates) * H);
    for (let b = 0; b < B; b++) {
      packed.set(
        output.subarray(b * outSteps * H, (b + 1) * outSteps * H),
        b * (outSteps + nStates) * H,
      );
      states.forEach((s, i) =>
        packed.set(s.subarray(b * H, (b + 1) * H), (b * (outSteps + nStates) + outSteps + i) * H),
      );
    }
    return tf.tensor3d(packed, [B, outSteps + nStates, H]);
  };
  let packed: Tensor;
  if (!withGradient) {
    const r = forward(
      k,
      kind,
      d,
      inputsOf(a.x, a.kernel, a.recurrentKernel, a.bias, a.init),
      false,
      packs,
    );
    packed = pack(r.output, r.states);
  } else {
    const op = tf.customGrad((...args: unknown[]) => {
      const [x, w, u, b, ...init] = args.slice(0, 4 + nStates) as Tensor[];
      // Forward keeps its inputs and activations in the kernels' memory for the backward pass.
      const r = forward(k, kind, d, inputsOf(x!, w!, u!, b!, init), true, packs);
      return {
        value: pack(r.output, r.states),
        gradFunc: (dy: Tensor) => {
          const g = dy.dataSync() as Float32Array;
          const doutput = packs ? new Float32Array(B * outSteps * H) : g;
          const dstates = Array.from({ length: nStates }, () => new Float32Array(B * H));
          for (let bi = 0; packs && bi < B; bi++) {
            const row = bi * (outSteps + nStates) * H;
            doutput.set(g.subarray(row, row + outSteps * H), bi * outSteps * H);
            dstates.forEach((s, i) =>
              s.set(g.subarray(row + (outSteps + i) * H, row + (outSteps + i + 1) * H), bi * H),
            );
          }
          // Inside another gradient computation's function (adversarial training, the gradient
          // of a gradient's value), TF.js asks again for the outer one, which also differentiates
          // what this call gives.
          const nested = recordingGradients(tf);
          const grads = backward(k, r.saved!, doutput, dstates, {
            flow: a.flow !== undefined,
            inputGradient: a.inputGradient ?? true,
            stateGradients: a.stateGradients ?? true,
            // The wasm backend copies a tensor's values into its memory as it makes the tensor.
            views: tf.getBackend() === "wasm",
            keepTape: nested,
          });
          if (grads.flow) a.flow?.(grads.flow);
          const absent = () => tf.tensor1d([], "float32");
          const given = [
            grads.dx ? tf.tensor3d(grads.dx, [B, T, F]) : absent(),
            tf.tensor2d(grads.dw, w!.shape as [number, number]),
            tf.tensor2d(grads.du, u!.shape as [number, number]),
            tf.tensor1d(grads.db),
            ...(grads.dinit.length
              ? grads.dinit.map((s) => tf.tensor2d(s, [B, H]))
              : init.map(absent)),
          ];
          const inputs = [x!, w!, u!, b!, ...init];
          return nested ? given.map((t) => firstOrderOnly(tf, t, inputs)) : given;
        },
      };
    });
    packed = (op as (...t: Tensor[]) => Tensor)(
      a.x,
      a.kernel,
      a.recurrentKernel,
      a.bias,
      ...a.init,
    );
  }
  if (!packs) return { output: packed, states: [] };
  const output = a.sequences
    ? tf.slice(packed, [0, 0, 0], [B, T, H])
    : tf.reshape(tf.slice(packed, [0, 0, 0], [B, 1, H]), [B, H]);
  const states = Array.from({ length: nStates }, (_, i) =>
    tf.reshape(tf.slice(packed, [0, outSteps + i, 0], [B, 1, H]), [B, H]),
  );
  return { output, states };
}
