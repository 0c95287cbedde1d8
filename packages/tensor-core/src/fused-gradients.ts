/**
 * Gradients of the fused kernels (fused-kernels.ts). Each backward pass is one fused kernel producing every
 * input gradient at once; the engine's backprop runs inside a tidy, so the gradients nobody asks for (e.g.
 * dgamma when only dx is wanted) are disposed with it. These gradients are first-order only: the backward
 * kernels have no gradients of their own.
 */
import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS } from './fused-kernels';

type Saved = tf.Tensor[];

function run(kernel: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap): tf.Tensor[] {
  const out = tf.engine().runKernel(kernel, inputs, attrs);
  return Array.isArray(out) ? out : [out];
}

function eps(attrs: tf.NamedAttrMap | undefined): number {
  return (attrs as { eps: number }).eps;
}

/** The backward of a gated product act(gate) * up: one kernel giving dgate and dup. */
function gatedGradient(kernelName: string, gradKernel: string): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['gate', 'up'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: Saved) => {
      const [gate, up] = saved;
      const [dg, du] = run(gradKernel, { gate, up, dy: dy as tf.Tensor });
      return { gate: () => dg, up: () => du };
    },
  };
}

const CONFIGS: tf.GradConfig[] = [
  {
    kernelName: FUSED_KERNELS.layerNorm,
    inputsToSave: ['x', 'gamma'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: Saved, attrs?: tf.NamedAttrMap) => {
      const [x, gamma] = saved;
      const [dx, dg, db] = run(FUSED_KERNELS.layerNormGrad, { x, gamma, dy: dy as tf.Tensor }, { eps: eps(attrs) });
      return { x: () => dx, gamma: () => dg, beta: () => db };
    },
  },
  {
    kernelName: FUSED_KERNELS.rmsNorm,
    inputsToSave: ['x', 'weight'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: Saved, attrs?: tf.NamedAttrMap) => {
      const [x, weight] = saved;
      const offset = (attrs as { offset?: number } | undefined)?.offset ?? 0;
      const [dx, dw] = run(FUSED_KERNELS.rmsNormGrad, { x, weight, dy: dy as tf.Tensor }, { eps: eps(attrs), offset });
      return { x: () => dx, weight: () => dw };
    },
  },
  {
    kernelName: FUSED_KERNELS.geluTanh,
    inputsToSave: ['x'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: Saved) => {
      const [x] = saved;
      return { x: () => run(FUSED_KERNELS.geluTanhGrad, { x, dy: dy as tf.Tensor })[0] };
    },
  },
  gatedGradient(FUSED_KERNELS.siluMul, FUSED_KERNELS.siluMulGrad),
  gatedGradient(FUSED_KERNELS.geluMul, FUSED_KERNELS.geluMulGrad),
  {
    kernelName: FUSED_KERNELS.crossEntropy,
    inputsToSave: ['logits', 'labels'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: Saved) => {
      const [logits, labels] = saved;
      return {
        logits: () => run(FUSED_KERNELS.crossEntropyGrad, { logits, labels, dy: dy as tf.Tensor })[0],
        labels: () => tf.zerosLike(labels),
      };
    },
  },
  {
    kernelName: FUSED_KERNELS.rope,
    inputsToSave: ['cos', 'sin'],
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: Saved, attrs?: tf.NamedAttrMap) => {
      const [cos, sin] = saved;
      const inverse = !!(attrs as { inverse?: boolean } | undefined)?.inverse;
      const tableGrad = (): tf.Tensor => {
        throw new Error('rotaryEmbedding: the cos/sin tables are constants; their gradient is not implemented');
      };
      // The rotation is orthogonal: its transpose is the rotation by the opposite angle.
      return { x: () => run(FUSED_KERNELS.rope, { x: dy as tf.Tensor, cos, sin }, { inverse: !inverse })[0], cos: tableGrad, sin: tableGrad };
    },
  },
];

let registered = false;

/** Registers the gradients of the fused kernels with the engine (backend-independent). Idempotent. */
export function registerFusedGradients(): void {
  if (registered) return;
  for (const c of CONFIGS) {
    if (!tf.getGradient(c.kernelName)) tf.registerGradient(c);
  }
  registered = true;
}
