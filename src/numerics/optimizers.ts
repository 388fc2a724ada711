import {
  p,
  type CallOf,
  type CallsOf,
  type ParamsSpec,
  type ParamValues,
} from "../stages/schema.js";
import { onePassAdam } from "./adam.js";
import type { TF } from "./tf.js";

type Optimizer = import("../runtime/tfjs.js").Optimizer;

/**
 * Optimizers and learning-rate schedules a train stage may name. Each is one entry: its arguments
 * (checked by the language like any parameter, with Keras's defaults) and what it does with them,
 * typed from those arguments. A new optimizer is one more entry.
 */
interface OptimizerDef<P extends ParamsSpec> {
  /** What it does, for the reference (`rnnp help adam`). */
  doc: string;
  params: P;
  make(tf: TF, a: ParamValues<P>): Optimizer;
}
const optimizer = <P extends ParamsSpec>(d: OptimizerDef<P>) => d;

export const OPTIMIZERS = {
  sgd: optimizer({
    doc: "Stochastic gradient descent, with optional (Nesterov) momentum.",
    params: {
      lr: p.number("Learning rate.", { greaterThan: 0 }).default(0.01),
      momentum: p.number("Momentum.", { min: 0, max: 0.999 }).default(0),
      nesterov: p.bool("Nesterov momentum.").default(false),
    },
    make: (tf, a) =>
      a.momentum > 0 ? tf.train.momentum(a.lr, a.momentum, a.nesterov) : tf.train.sgd(a.lr),
  }),
  adam: optimizer({
    doc: "Adam: per-weight steps from running averages of the gradient and its square (Kingma and Ba, 2015).",
    params: {
      lr: p.number("Learning rate.", { greaterThan: 0 }).default(0.001),
      beta1: p.number("Decay of the first moment.", { min: 0, max: 0.9999 }).default(0.9),
      beta2: p.number("Decay of the second moment.", { min: 0, max: 0.99999 }).default(0.999),
      epsilon: p.number("Added to the denominator.", { greaterThan: 0 }).default(1e-7),
    },
    make: (tf, a) => onePassAdam(tf, tf.train.adam(a.lr, a.beta1, a.beta2, a.epsilon)),
  }),
  rmsprop: optimizer({
    doc: "RMSprop: steps divided by a running average of the squared gradient.",
    params: {
      lr: p.number("Learning rate.", { greaterThan: 0 }).default(0.001),
      rho: p.number("Decay of the squared-gradient average.", { min: 0, max: 0.9999 }).default(0.9),
      momentum: p.number("Momentum.", { min: 0, max: 0.999 }).default(0),
      epsilon: p.number("Added to the denominator.", { greaterThan: 0 }).default(1e-7),
    },
    make: (tf, a) => tf.train.rmsprop(a.lr, a.rho, a.momentum, a.epsilon),
  }),
  adagrad: optimizer({
    doc: "Adagrad: steps divided by the root of every squared gradient so far.",
    params: {
      lr: p.number("Learning rate.", { greaterThan: 0 }).default(0.01),
      initialAccumulator: p
        .number("Starting value of the accumulators.", { greaterThan: 0 })
        .default(0.1),
    },
    make: (tf, a) => tf.train.adagrad(a.lr, a.initialAccumulator),
  }),
};

/** Where a schedule is: the base rate, the fractional epoch (0 at the start) and the epoch count. */
export interface ScheduleAt {
  base: number;
  t: number;
  epochs: number;
}
interface ScheduleDef<P extends ParamsSpec> {
  /** What it does, for the reference (`rnnp help cosine`). */
  doc: string;
  params: P;
  rate(a: ParamValues<P>, at: ScheduleAt): number;
}
const schedule = <P extends ParamsSpec>(d: ScheduleDef<P>) => d;

/** Learning-rate schedules, as functions of the (fractional) epoch. */
export const SCHEDULES = {
  constant: schedule({
    doc: "The optimizer's learning rate, unchanged.",
    params: {},
    rate: (_a, at) => at.base,
  }),
  step: schedule({
    doc: "The learning rate times `factor` every `every` epochs.",
    params: {
      every: p.int("Epochs between drops.", { min: 1 }),
      factor: p.number("Multiplier at each drop.", { greaterThan: 0, max: 1 }).default(0.5),
    },
    rate: (a, at) => at.base * a.factor ** Math.floor(at.t / a.every),
  }),
  exponential: schedule({
    doc: "The learning rate times `rate` per epoch, smoothly within epochs.",
    params: { rate: p.number("Multiplier per epoch.", { greaterThan: 0, max: 1 }).default(0.95) },
    rate: (a, at) => at.base * a.rate ** at.t,
  }),
  cosine: schedule({
    doc: "The learning rate falls along half a cosine from the optimizer's lr to `minLr` at the last epoch.",
    params: { minLr: p.number("Learning rate at the last epoch.", { min: 0 }).default(0) },
    rate: (a, at) =>
      a.minLr + ((at.base - a.minLr) * (1 + Math.cos((Math.PI * at.t) / at.epochs))) / 2,
  }),
};

type ParamsOf<T extends Record<string, { params: ParamsSpec }>> = {
  [K in keyof T]: T[K]["params"];
};
const paramsOf = <T extends Record<string, { params: ParamsSpec }>>(entries: T): ParamsOf<T> =>
  Object.fromEntries(Object.entries(entries).map(([k, e]) => [k, e.params])) as ParamsOf<T>;

/** Variant name -> arguments, for `p.call` (the train kind's `optimizer:` and `schedule:`). */
export const OPTIMIZER_VARIANTS = paramsOf(OPTIMIZERS);
export const SCHEDULE_VARIANTS = paramsOf(SCHEDULES);

export type OptimizerCall = CallsOf<typeof OPTIMIZER_VARIANTS>;
export type ScheduleCall = CallsOf<typeof SCHEDULE_VARIANTS>;

type OptimizerArgs = { [K in keyof typeof OPTIMIZERS]: OptimizerCall & { call: K } };
type ScheduleArgs = { [K in keyof typeof SCHEDULES]: ScheduleCall & { call: K } };

export function makeOptimizer<K extends keyof typeof OPTIMIZERS>(
  tf: TF,
  o: CallOf<K, OptimizerArgs[K]["args"]>,
): Optimizer {
  // Typed per name (TypeScript correlates `o.call` with `o.args` through this mapped type).
  const table: {
    [N in keyof typeof OPTIMIZERS]: { make(tf: TF, a: OptimizerArgs[N]["args"]): Optimizer };
  } = OPTIMIZERS;
  return table[o.call].make(tf, o.args);
}

/** TF.js optimizers read their learning rate at every step; SGD keeps it in a tensor it must replace. */
export function setLearningRate(opt: Optimizer, lr: number): void {
  const o = opt as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof o.setLearningRate === "function") o.setLearningRate(lr);
  else o.learningRate = lr;
}

/**
 * The learning rate at fractional epoch `t` (0 at the start): the schedule's, scaled by a linear
 * warm-up over the first `warmup` epochs.
 */
export function learningRate<K extends keyof typeof SCHEDULES>(
  s: CallOf<K, ScheduleArgs[K]["args"]>,
  base: number,
  t: number,
  epochs: number,
  warmup: number,
  stepFraction = 0,
): number {
  const table: {
    [N in keyof typeof SCHEDULES]: { rate(a: ScheduleArgs[N]["args"], at: ScheduleAt): number };
  } = SCHEDULES;
  const lr = table[s.call].rate(s.args, { base, t, epochs });
  return warmup > 0 ? lr * Math.min(1, (t + stepFraction) / warmup) : lr;
}
