import { p, type CallOf } from "../stages/schema.js";
import type { TF } from "./tf.js";

type Optimizer = import("@tensorflow/tfjs").Optimizer;

/** The optimizers a train stage may name, with Keras's defaults. */
export const OPTIMIZERS = {
  sgd: {
    lr: p.number("Learning rate.", { greaterThan: 0 }).default(0.01),
    momentum: p.number("Momentum.", { min: 0, max: 0.999 }).default(0),
    nesterov: p.bool("Nesterov momentum.").default(false),
  },
  adam: {
    lr: p.number("Learning rate.", { greaterThan: 0 }).default(0.001),
    beta1: p.number("Decay of the first moment.", { min: 0, max: 0.9999 }).default(0.9),
    beta2: p.number("Decay of the second moment.", { min: 0, max: 0.99999 }).default(0.999),
    epsilon: p.number("Added to the denominator.", { greaterThan: 0 }).default(1e-7),
  },
  rmsprop: {
    lr: p.number("Learning rate.", { greaterThan: 0 }).default(0.001),
    rho: p.number("Decay of the squared-gradient average.", { min: 0, max: 0.9999 }).default(0.9),
    momentum: p.number("Momentum.", { min: 0, max: 0.999 }).default(0),
    epsilon: p.number("Added to the denominator.", { greaterThan: 0 }).default(1e-7),
  },
  adagrad: {
    lr: p.number("Learning rate.", { greaterThan: 0 }).default(0.01),
    initialAccumulator: p
      .number("Starting value of the accumulators.", { greaterThan: 0 })
      .default(0.1),
  },
};

/** Learning-rate schedules, as functions of the (fractional) epoch. */
export const SCHEDULES = {
  constant: {},
  step: {
    every: p.int("Epochs between drops.", { min: 1 }),
    factor: p.number("Multiplier at each drop.", { greaterThan: 0, max: 1 }).default(0.5),
  },
  exponential: {
    rate: p.number("Multiplier per epoch.", { greaterThan: 0, max: 1 }).default(0.95),
  },
  cosine: { minLr: p.number("Learning rate at the last epoch.", { min: 0 }).default(0) },
};

export function makeOptimizer(tf: TF, o: CallOf<Record<string, number | boolean>>): Optimizer {
  const a = o.args as {
    lr: number;
    momentum: number;
    nesterov: boolean;
    beta1: number;
    beta2: number;
    epsilon: number;
    rho: number;
    initialAccumulator: number;
  };
  switch (o.call) {
    case "sgd":
      return a.momentum > 0 ? tf.train.momentum(a.lr, a.momentum, a.nesterov) : tf.train.sgd(a.lr);
    case "adam":
      return tf.train.adam(a.lr, a.beta1, a.beta2, a.epsilon);
    case "rmsprop":
      return tf.train.rmsprop(a.lr, a.rho, a.momentum, a.epsilon);
    case "adagrad":
      return tf.train.adagrad(a.lr, a.initialAccumulator);
    default:
      throw new Error(`unknown optimizer ${o.call}`);
  }
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
export function learningRate(
  schedule: CallOf<Record<string, number>>,
  base: number,
  t: number,
  epochs: number,
  warmup: number,
  stepFraction = 0,
): number {
  const a = schedule.args;
  let lr: number;
  switch (schedule.call) {
    case "step":
      lr = base * a.factor! ** Math.floor(t / a.every!);
      break;
    case "exponential":
      lr = base * a.rate! ** t;
      break;
    case "cosine":
      lr = a.minLr! + ((base - a.minLr!) * (1 + Math.cos((Math.PI * t) / epochs))) / 2;
      break;
    default:
      lr = base;
  }
  return warmup > 0 ? lr * Math.min(1, (t + stepFraction) / warmup) : lr;
}
