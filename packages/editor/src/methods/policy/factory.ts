/** The EditorFactory of a policy method, from its PolicyMethod description. */
import * as path from 'path';
import { HiEditPolicy, loadPolicy } from '@hiedit/rl-hierarchy';
import { EditorFactory } from '../../editors/types';
import { requireResolved } from '../schema';
import { POLICY_SUBDIR, PolicyEditor } from './editor';
import { PolicyMethod, readStoredPolicySettings, resolvePolicySettings, ResolvedPolicySettings } from './settings';

/** The factory of `method`: resolve, read stored settings, create and load. */
export function policyFactory(method: PolicyMethod): EditorFactory<ResolvedPolicySettings> {
  const kind = method.kind;
  return {
    kind, summary: method.summary, trainable: true, sharedEditTimeOptions: true,
    resolveSettings: (shapes, given, options = {}) => resolvePolicySettings(method, shapes, given, options),
    readStoredSettings: (shapes, stored) => readStoredPolicySettings(method, shapes, stored),
    create(model, modules, settings) {
      requireResolved(settings, kind);
      const policy = new HiEditPolicy(modules.map((n) => model.module(n)), settings.policy);
      return new PolicyEditor(method, policy, settings);
    },
    load(dir, model, modules, settings) {
      requireResolved(settings, kind);
      const policy = loadPolicy(path.join(dir, POLICY_SUBDIR), (n) => model.module(n));
      const names = policy.moduleNames();
      const refuse = (why: string): never => {
        policy.dispose();
        throw new Error(`editor directory ${dir}: ${why}`);
      };
      if (names.length !== modules.length || names.some((n, i) => n !== modules[i])) {
        refuse(`policy modules ${names.join(', ')} differ from editor.json's ${modules.join(', ')}`);
      }
      if (method.usesHighLevel !== (policy.high !== null)) {
        refuse(`a ${kind} editor ${method.usesHighLevel ? 'needs' : 'must not have'} a high-level policy`);
      }
      // The trainer preset was resolved for the settings' shift style; the saved policy's must be the same.
      if (policy.config.low.style !== settings.policy.low.style) {
        refuse(`the saved policy's low.style '${policy.config.low.style}' differs from the settings' '${settings.policy.low.style}'`);
      }
      // The saved policy is the truth about the policy (an old editor.json may record only the user's part of it).
      const { low, high, seed } = policy.config;
      return new PolicyEditor(method, policy, { ...settings, policy: { low, high, seed } });
    },
  };
}
