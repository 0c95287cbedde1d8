/**
 * What a run directory says about how its editors were configured. results.json does not record editor
 * settings, and the runner's keys are hashes that include the seed, so the trained policies' own
 * configuration (editors/NAME/trained/policy/policy.json) is the one place where seeds measured with
 * different defaults (a changed initial eta, a new policy format) can be told apart. Read best-effort:
 * the file belongs to the editor package, and a run without it simply has nothing to compare.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readJsonFile } from '@hiedit/tensor-core';

/** Flattened configuration of one trained editor: "low.initEta" -> "0.005". */
export type EditorConfig = Record<string, string>;

function flatten(v: unknown, prefix: string, out: EditorConfig): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = JSON.stringify(v);
}

/**
 * The configuration of each trained policy editor under DIR/editors (the seed removed, since it differs
 * by design), with the policy file's format version; editors without a readable policy.json are absent.
 */
export function readEditorConfigs(dir: string, editors: readonly string[]): Record<string, EditorConfig> {
  const out: Record<string, EditorConfig> = {};
  for (const name of editors) {
    const file = path.join(dir, 'editors', name, 'trained', 'policy', 'policy.json');
    if (!fs.existsSync(file)) continue;
    let raw: unknown;
    try {
      raw = readJsonFile(file);
    } catch {
      continue;
    }
    if (!raw || typeof raw !== 'object') continue;
    const { config, version } = raw as { config?: unknown; version?: unknown };
    if (!config || typeof config !== 'object' || Array.isArray(config)) continue;
    const rest: Record<string, unknown> = { ...(config as Record<string, unknown>) };
    delete rest.seed;
    const flat: EditorConfig = {};
    if (version !== undefined) flat['(policy format version)'] = JSON.stringify(version);
    flatten(rest, '', flat);
    out[name] = flat;
  }
  return out;
}

/**
 * One warning per editor whose trained configuration differs between seeds, naming the seeds and the
 * differing keys, compared with the first seed that has the editor's configuration.
 */
export function configWarnings(runs: readonly { seed: number; configs: Record<string, EditorConfig> }[]): string[] {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.configs)))];
  const warnings: string[] = [];
  for (const name of names) {
    const having = runs.filter((r) => r.configs[name]);
    const ref = having[0];
    const diffs: string[] = [];
    for (const r of having.slice(1)) {
      const a = ref.configs[name];
      const b = r.configs[name];
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]);
      if (keys.length > 0) diffs.push(`seed ${ref.seed} vs ${r.seed}: ${keys.map((k) => `${k} ${a[k] ?? '(absent)'} vs ${b[k] ?? '(absent)'}`).join(', ')}`);
    }
    if (diffs.length > 0) {
      warnings.push(`${name} was trained with different settings in different seeds (different defaults or code versions?), so its spread mixes them: ${diffs.join('; ')}`);
    }
  }
  return warnings;
}
