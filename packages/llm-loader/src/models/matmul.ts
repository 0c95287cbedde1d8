/**
 * Matrix products whose backward passes use only untransposed matmuls. The stock tfjs wasm kernel is
 * 8-40x slower when asked to transpose an operand (measured: dy W^T 152 ms vs (W dy^T)^T 13 ms at
 * T=32, 768x3072), and tfjs's own matmul gradient always asks for one. Transposing the small
 * activation explicitly keeps every product on the fast path. Weights passed as constants get no
 * gradient at all (trace computes no weight gradients).
 */
import { acceleratorStatus, tf } from '@hiedit/tensor-core';

/**
 * With the native accelerator active, transposes are cblas flags (free) and the explicit transposes below only
 * add Transpose kernels and skinny (V x T) products, so the plain flagged forms are used (perf helper, 17:30).
 */
function nativeTransposes(): boolean {
  return acceleratorStatus().active;
}

type Save = tf.GradSaveFunc;
type Arg = tf.Tensor | Save;

/** d(x W)/dx = dy W^T, computed as (W dy^T)^T. */
function backX(dy: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (nativeTransposes()) return tf.matMul(dy, w, false, true);
  return tf.transpose(tf.matMul(w, tf.transpose(dy))) as tf.Tensor2D;
}

/** d(x W)/dW = x^T dy with x^T materialized (it is (T, dIn), small). */
function backW(dy: tf.Tensor2D, x: tf.Tensor2D): tf.Tensor2D {
  if (nativeTransposes()) return tf.matMul(x, dy, true, false);
  return tf.matMul(tf.transpose(x), dy);
}

function forward(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor | undefined): tf.Tensor2D {
  if (!bias) return tf.matMul(x, w);
  // The native kernel takes 2-D operands and the bias in the same call (BLAS, or hiedit's GEMM, adds the product
  // to it): one dispatch (the gradient is ours, from the customGrad around this call). Otherwise a plain Add:
  // tf.fused.matMul would wrap the stock kernel in three Reshapes and a customGrad scope. The two paths round
  // differently in the last bits (bias first, then the product's partial sums, against the product then the bias).
  if (nativeTransposes()) {
    return tf.engine().runKernel('_FusedMatMul', { a: x, b: w, bias }, { transposeA: false, transposeB: false, activation: 'linear' }) as tf.Tensor2D;
  }
  return tf.add(tf.matMul(x, w), bias);
}

/** y = x W (+ bias), differentiable in x only; w and bias are constants. */
export function linearConst(x: tf.Tensor2D, w: tf.Tensor2D, bias?: tf.Tensor): tf.Tensor2D {
  const op = tf.customGrad((...a: Arg[]) => ({
    value: forward(a[0] as tf.Tensor2D, w, bias) as tf.Tensor,
    gradFunc: (dy: tf.Tensor) => backX(dy as tf.Tensor2D, w),
  }));
  return op(x) as tf.Tensor2D;
}

/** y = x W (+ bias), differentiable in x and w; bias is a constant. */
export function linearDiff(x: tf.Tensor2D, w: tf.Tensor2D, bias?: tf.Tensor): tf.Tensor2D {
  const op = tf.customGrad((...a: Arg[]) => {
    const [xi, wi, save] = a as [tf.Tensor2D, tf.Tensor2D, Save];
    save([xi, wi]);
    return {
      value: forward(xi, wi, bias) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        backX(dy as tf.Tensor2D, saved[1] as tf.Tensor2D),
        backW(dy as tf.Tensor2D, saved[0] as tf.Tensor2D),
      ],
    };
  });
  return op(x, w) as tf.Tensor2D;
}

/** h E^T as (E h^T)^T: E is (V, d) as stored; logits (N, V). */
function headForward(h: tf.Tensor2D, e: tf.Tensor2D): tf.Tensor2D {
  if (nativeTransposes()) return tf.matMul(h, e, false, true);
  return tf.transpose(tf.matMul(e, tf.transpose(h))) as tf.Tensor2D;
}

/** Output projection with a constant embedding / lm_head matrix E (V, d): differentiable in h only. */
export function headConst(h: tf.Tensor2D, e: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...a: Arg[]) => ({
    value: headForward(a[0] as tf.Tensor2D, e) as tf.Tensor,
    gradFunc: (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, e),
  }));
  return op(h) as tf.Tensor2D;
}

/** Output projection differentiable in h and E. */
export function headDiff(h: tf.Tensor2D, e: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...a: Arg[]) => {
    const [hi, ei, save] = a as [tf.Tensor2D, tf.Tensor2D, Save];
    save([hi, ei]);
    return {
      value: headForward(hi, ei) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        tf.matMul(dy as tf.Tensor2D, saved[1] as tf.Tensor2D),
        nativeTransposes() ? tf.matMul(dy as tf.Tensor2D, saved[0] as tf.Tensor2D, true, false) : tf.matMul(tf.transpose(dy), saved[0] as tf.Tensor2D),
      ],
    };
  });
  return op(h, e) as tf.Tensor2D;
}
