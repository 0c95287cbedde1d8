/**
 * tensor-core's fused ops on their own: causal attention with grouped-query heads, softmax cross-entropy and
 * tanh-GELU, each checked against the same math written with plain tf ops, forward and gradient. With the native
 * accelerator each op is one kernel forward and one backward; without it the same functions fall back to the
 * plain ops, so this example runs (and passes) either way.
 *
 *   node docs/examples/run.js docs/examples/06-fused-kernels.ts
 */
import * as assert from 'assert';
import { acceleratorStatus, attention, geluTanh, initBackend, kernelFingerprint, softmaxCrossEntropy, tf } from '@hiedit/tensor-core';

/** max |a - b| over two tensors of one shape. */
function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

export async function main(): Promise<void> {
  await initBackend();
  console.log(`accelerator: ${acceleratorStatus().active ? 'native' : 'off'} (${kernelFingerprint()})`);
  const before = tf.memory().numTensors;

  // Attention: B=1, T=5, 4 query heads sharing 2 key/value heads, head size 8, layout (B, T, heads, hd).
  const [B, T, H, kvH, hd] = [1, 5, 4, 2, 8];
  const q = tf.randomNormal([B, T, H, hd], 0, 1, 'float32', 1) as tf.Tensor4D;
  const k = tf.randomNormal([B, T, kvH, hd], 0, 1, 'float32', 2) as tf.Tensor4D;
  const v = tf.randomNormal([B, T, kvH, hd], 0, 1, 'float32', 3) as tf.Tensor4D;
  // A causal mask as an additive bias (B, 1, T, T): -1e9 above the diagonal.
  const bias = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9).reshape([1, 1, T, T])) as tf.Tensor4D;
  const scale = 1 / Math.sqrt(hd);
  const fused = attention(q, k, v, { scale, bias }); // (B * T, H * hd), heads merged
  const plain = tf.tidy(() => {
    // The same with plain ops: repeat each key/value head for its group of query heads.
    const rep = (x: tf.Tensor) => tf.transpose(tf.reshape(tf.tile(tf.expandDims(x, 3), [1, 1, 1, H / kvH, 1]), [B, T, H, hd]), [0, 2, 1, 3]);
    const qh = tf.transpose(q, [0, 2, 1, 3]);
    const p = tf.softmax(tf.add(tf.mul(tf.matMul(qh, rep(k), false, true), scale), bias));
    return tf.reshape(tf.transpose(tf.matMul(p, rep(v)), [0, 2, 1, 3]), [B * T, H * hd]);
  });
  console.log(`attention: fused vs plain ops, max |diff| ${maxDiff(fused, plain).toExponential(1)}`);
  assert.ok(maxDiff(fused, plain) < 1e-4);

  // Softmax cross-entropy per row, and its gradient (softmax - onehot) written out.
  const logits = tf.randomNormal([3, 11], 0, 3, 'float32', 4) as tf.Tensor2D;
  const labels = [2, 0, 10];
  const loss = softmaxCrossEntropy(logits, labels);
  const plainLoss = tf.tidy(() => tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(labels, 11)), 1)));
  const [g] = tf.grads((x: tf.Tensor) => tf.sum(softmaxCrossEntropy(x as tf.Tensor2D, labels)))([logits]);
  const plainGrad = tf.tidy(() => tf.sub(tf.softmax(logits), tf.oneHot(labels, 11)));
  console.log(`cross-entropy: loss ${Array.from(loss.dataSync(), (x) => x.toFixed(3)).join(', ')}; gradient max |diff| ${maxDiff(g, plainGrad).toExponential(1)}`);
  assert.ok(maxDiff(loss, plainLoss) < 1e-4 && maxDiff(g, plainGrad) < 1e-5);

  // tanh-GELU (GPT-2's gelu_new).
  const x = tf.linspace(-6, 6, 25);
  const gelu = geluTanh(x);
  const plainGelu = tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))));
  console.log(`geluTanh: max |diff| ${maxDiff(gelu, plainGelu).toExponential(1)}`);
  assert.ok(maxDiff(gelu, plainGelu) < 1e-5);

  tf.dispose([q, k, v, bias, fused, plain, logits, loss, plainLoss, g, plainGrad, x, gelu, plainGelu]);
  assert.strictEqual(tf.memory().numTensors, before, 'no tensor leaked');
  console.log('fused and plain forms agree; no tensors leaked');
}
