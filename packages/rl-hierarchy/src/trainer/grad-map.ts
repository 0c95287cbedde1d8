/**
 * Policy gradients keyed by parameter name, as both gradient modes hand them to the update schedule.
 */
import { tf } from '@hiedit/tensor-core';
import type { HiEditPolicy } from '../policy';

/** Gradients keyed by parameter name; owned by whoever holds the map. */
export type GradMap = Map<string, tf.Tensor>;

/** Gradients of one step and its loss terms. */
export interface StepGradients {
  grads: Map<string, tf.Tensor>;
  loss: number;
  gen: number;
  loc: number;
  reg: number;
}

export function disposeGrads(g: GradMap): void {
  for (const t of g.values()) t.dispose();
  g.clear();
}

/** The policy's variables in its parameter order (the order tf.variableGrads differentiates in). */
export function policyVariables(policy: HiEditPolicy): tf.Variable[] {
  return policy.params.names().map((n) => policy.params.get(n));
}

/** Parameter name of each of the policy's tf variables, keyed by the variable's own name. */
export function paramNamesByVariable(policy: HiEditPolicy): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of policy.params.names()) out.set(policy.params.get(n).name, n);
  return out;
}

/** Re-key tfjs's gradients (by variable name) by parameter name; gradients of other variables are dropped. */
export function collectGrads(grads: tf.NamedTensorMap, paramOfVariable: ReadonlyMap<string, string>): GradMap {
  const out: GradMap = new Map();
  for (const [vname, g] of Object.entries(grads)) {
    const n = paramOfVariable.get(vname);
    if (n === undefined) g.dispose();
    else out.set(n, g);
  }
  return out;
}
