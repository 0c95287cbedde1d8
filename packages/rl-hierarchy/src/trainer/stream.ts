/**
 * Checks of the request streams a run trains and validates on.
 */
import type { TokenizedEditRequest } from '@hiedit/tensor-core';

/** Refuse a stream with a request lacking its edit tuple, or a tuple without ids or label positions; `label` names it. */
export function validateStream(stream: readonly TokenizedEditRequest[], label: string): void {
  stream.forEach((r, i) => {
    const where = `${label}[${i}] (id ${JSON.stringify(r?.id)})`;
    if (!r || !r.edit) throw new Error(`${where}: missing edit tuple`);
    for (const [k, t] of [['edit', r.edit], ...r.paraphrases.map((p, j) => [`paraphrases[${j}]`, p] as const), ...r.locality.map((p, j) => [`locality[${j}]`, p] as const)] as const) {
      if (t.ids.length === 0 || t.ids.length !== t.labels.length) throw new Error(`${where}: ${k} needs non-empty ids and labels of equal length`);
      if (!t.labels.some((l) => l !== -100)) throw new Error(`${where}: ${k} has no label positions`);
    }
  });
}
