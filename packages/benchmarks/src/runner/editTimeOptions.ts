/**
 * A short description of an editor's edit-time machinery (strength calibration with its miss rule, key preconditioner,
 * factor space) read from its resolved settings, so the comparison lines can say whether two editors ran at equal
 * options. Editors without that machinery (ft, noop) are described as such.
 */
import type { ResolvedSettings } from '@hiedit/editor';

interface PolicyLike {
  policy?: { low?: { keyPreconditioner?: { lambda: number; rescale: string }; factorSpace?: string } };
  trainer?: { calibration?: { onMiss: string; margin: number; minStrength: number; maxStrength: number } | null };
  editCalibration?: { onMiss: string; margin: number; minStrength: number; maxStrength: number };
}

/** e.g. `calibration (margin 0.5, 1/16..16x, on miss next) + key preconditioner (1e-3) + module factors`, or `none`. */
export function editTimeOptions(settings: ResolvedSettings): string {
  const s = settings as PolicyLike;
  if (!s.policy || !s.trainer) return 'none (no policy)';
  const parts: string[] = [];
  const c = s.editCalibration ?? s.trainer.calibration;
  if (c) parts.push(`calibration (margin ${c.margin}, ${c.minStrength}..${c.maxStrength}x, on miss ${c.onMiss})`);
  const kp = s.policy.low?.keyPreconditioner;
  if (kp) parts.push(`key preconditioner (lambda ${kp.lambda}, ${kp.rescale})`);
  if (s.policy.low?.factorSpace === 'module') parts.push('module factors');
  return parts.length ? parts.join(' + ') : 'none';
}
