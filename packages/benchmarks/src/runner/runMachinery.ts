/**
 * `--machinery hiedit|none`: one value of the editor package's `machinery` setting given to every policy editor of a
 * run, so a comparison puts them on equal footing (issue 13, deliverable 4). Without the flag each editor keeps its own
 * default, and a run resolves exactly the settings it resolved before the flag existed.
 */
import { editorFactory, editorKinds } from '@hiedit/editor';
import { BENCHMARK_ONLY_EDITORS } from './oracle';
import type { RunOptions } from './types';

/** The presets the flag takes (the editor package's `machinery` presets). */
export const RUN_MACHINERY_PRESETS = ['hiedit', 'none'] as const;
export type RunMachinery = (typeof RUN_MACHINERY_PRESETS)[number];

/** Whether the flag reaches editor `kind`: its factory (the benchmark's own, else the registry's) takes the options. */
function reaches(kind: string): boolean {
  const f = BENCHMARK_ONLY_EDITORS[kind] ?? (editorKinds().includes(kind) ? editorFactory(kind) : undefined);
  return f?.sharedEditTimeOptions === true;
}

/**
 * The editors the flag reaches: the registered methods whose factories take the shared edit-time options (every policy
 * editor users get). Not ft (no policy: its own optimizer has no calibration or preconditioner), noop (applies
 * nothing) nor oracle-k (an upper bound, not a compared editor).
 */
export const RUN_MACHINERY_EDITORS: readonly string[] = editorKinds().filter(reaches);

/** Settings fields that set single parts of the machinery (the editor package refuses them beside `machinery`). */
const PART_FIELDS: readonly (readonly string[])[] = [['trainer', 'calibration'], ['policy', 'low', 'keyPreconditioner'], ['policy', 'low', 'factorSpace']];

function fieldAt(o: unknown, at: readonly string[]): unknown {
  let v: unknown = o;
  for (const k of at) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/**
 * Refuses per-editor settings that contradict `--machinery`, naming both: a `machinery` of another value, or a single
 * part (trainer.calibration, policy.low.keyPreconditioner, policy.low.factorSpace) the flag also sets. The same value
 * given both ways is accepted.
 */
export function checkRunMachinery(o: Pick<RunOptions, 'machinery' | 'editors' | 'editorSettings'>): void {
  const m = o.machinery;
  if (m === undefined) return;
  if (!(RUN_MACHINERY_PRESETS as readonly string[]).includes(m)) {
    throw new Error(`run: --machinery must be ${RUN_MACHINERY_PRESETS.join(' or ')}, got ${JSON.stringify(m)}`);
  }
  for (const name of o.editors) {
    if (!reaches(name)) continue;
    const given = o.editorSettings?.[name];
    if (!given) continue;
    if (given.machinery !== undefined && JSON.stringify(given.machinery) !== JSON.stringify(m)) {
      throw new Error(`run: --machinery ${m} contradicts --editor-settings "${name}": {"machinery": ${JSON.stringify(given.machinery)}}; give one of them`);
    }
    for (const at of PART_FIELDS) {
      const v = fieldAt(given, at);
      if (v !== undefined) {
        throw new Error(`run: --machinery ${m} sets the edit-time options of every policy editor and --editor-settings "${name}" sets ` +
          `${at.join('.')} (${JSON.stringify(v)}); give one of them`);
      }
    }
  }
}

/** The settings the run gives editor `name`: its --editor-settings, with the run's machinery for a policy editor. */
export function runEditorSettings(o: Pick<RunOptions, 'machinery' | 'editorSettings'>, name: string): Record<string, unknown> {
  const given = o.editorSettings?.[name] ?? {};
  if (o.machinery === undefined || !reaches(name)) return given;
  return { ...given, machinery: o.machinery };
}

/** How the report states the run's edit-time options. */
export function runMachineryLabel(m: RunMachinery | undefined): string {
  return m === undefined
    ? "each editor's default (hiedit and the ablations: hiedit; hiedit-reference, rledit, mend: none)"
    : `${m} for every policy editor (${RUN_MACHINERY_EDITORS.join(', ')}); ft, noop and oracle-k keep their own`;
}
