/**
 * Runs part of a computation without recording it for autodiff. Under tf.grads / tf.variableGrads the engine
 * records every op and saves its inputs (one Identity dispatch each), even for ops no requested gradient
 * passes through - e.g. the first layers of a transformer when only the last layers' weights are
 * differentiated. Ops inside a customGrad forward are not recorded, which is what this helper uses.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Returns fn(x), computed without taping fn's ops. The result is a constant for autodiff: asking for a
 * gradient through it (i.e. through x) throws an Error naming `label`, so a caller that wrongly assumed
 * nothing upstream needs a gradient fails loudly instead of getting a silently wrong (zero) gradient.
 * Tensors fn creates are disposed except its result (and anything fn tf.keep()s).
 */
export function untaped<T extends tf.Tensor>(x: T, fn: (x: T) => T, label = 'untaped'): T {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: fn(args[0] as T),
    gradFunc: (): tf.Tensor => {
      throw new Error(`${label}: a gradient was requested through a computation run without autodiff (internal error)`);
    },
  }));
  return op(x) as T;
}
