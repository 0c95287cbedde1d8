/**
 * A shared check of a gate target's gradients in hiedit mode: the gate gets exactly the gradient of the target's
 * surrogate, and the low level that of the hard-masked losses, as under the straight-through signal.
 */
import { tf, SeededRandom, randomNormal } from '@hiedit/tensor-core';
import { HiEditPolicy, PolicyTrainer } from '@hiedit/rl-hierarchy';
import { localityReference, windowWeights } from '../src/loss';
import type { GateSignal, PolicyConfigInput, TrainerOptions, WindowItem } from '@hiedit/rl-hierarchy';
import { ToyLM, toyRequests } from './toy-lm';
import type { ToyLMSpec } from './toy-lm';

/** Move every policy parameter by seeded N(0, std^2) noise. */
export function perturb(policy: HiEditPolicy, seed: number, std: number): void {
  const rng = new SeededRandom(seed);
  for (const n of policy.params.names()) {
    const v = policy.params.get(n);
    tf.tidy(() => v.assign(tf.add(v, randomNormal(v.shape, rng.fork(n), std))));
  }
}

/**
 * Compare, on one traced toy request with a perturbed policy, `trainer.hieditGradients` under `target` with an
 * independent gradient of `surrogate(scores)` over the gate's parameters, and its low-level gradient with the
 * straight-through one's. `perturb` moves the policy off its initialization (seeded).
 */
export function expectGateTargetGradients(
  spec: ToyLMSpec,
  policyConfig: PolicyConfigInput,
  options: Partial<TrainerOptions>,
  target: GateSignal,
  surrogate: (scores: tf.Tensor1D) => tf.Scalar,
  perturb: (policy: HiEditPolicy) => void,
): void {
  const model = new ToyLM(spec);
  const reqs = toyRequests(3, spec.vocab, 17);
  const policy = new HiEditPolicy(model.modules, policyConfig);
  const trainer = new PolicyTrainer(model, policy, options);
  const trace = model.trace(reqs[2].edit, policy.moduleNames());
  policy.updateNormalizers(trace.features, { low: true, high: true });
  perturb(policy);
  const w = windowWeights(3, 0.95);
  const pBefore = localityReference(model, reqs);
  const items: WindowItem[] = reqs.map((r, i) => ({ request: r, weight: w[i], pBefore: pBefore[i] }));
  const step = trainer.hieditGradients(trace.features, items, 1, target);
  const straight = trainer.hieditGradients(trace.features, items, 1);
  // independent: d/dtheta of the surrogate over the gate's parameters
  const names = policy.params.names().filter((n) => n.startsWith('high.'));
  const { value, grads } = tf.variableGrads(() => surrogate(policy.high!.scores(trace.features)), names.map((n) => policy.params.get(n)));
  value.dispose();
  let checked = 0;
  for (const n of names) {
    const want = grads[policy.params.get(n).name];
    const got = step.grads.get(n);
    const wv = want ? Array.from(want.dataSync()) : [];
    if (wv.every((x) => x === 0)) continue;
    expect(got).toBeDefined();
    const gv = Array.from(got!.dataSync());
    gv.forEach((x, i) => expect(x).toBeCloseTo(wv[i], 5));
    checked++;
  }
  expect(checked).toBeGreaterThan(0);
  // the straight-through run gives the gate another gradient (the model losses), so the test can fail
  const gateW = 'high.gate.W';
  expect(Array.from(straight.grads.get(gateW)!.dataSync())).not.toEqual(Array.from(step.grads.get(gateW)!.dataSync()));
  // the low level is trained on the same selected shift either way (hard mask forward)
  const low = [...step.grads.keys()].find((n) => n.startsWith('low.'))!;
  const a = Array.from(step.grads.get(low)!.dataSync());
  Array.from(straight.grads.get(low)!.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(a[i], 5));
  for (const g of [...Object.values(grads), ...step.grads.values(), ...straight.grads.values()]) g.dispose();
  for (const f of trace.features.values()) { f.keys.dispose(); f.valueGrads.dispose(); }
  pBefore.forEach((p) => p?.dispose());
  trainer.dispose();
  policy.dispose();
  model.dispose();
}
