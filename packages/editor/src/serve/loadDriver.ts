/**
 * A load driver for a running `hiedit serve`: N concurrent clients send generations with edits interleaved and
 * every answer is recorded. The test suite runs it small; scripts/serve-load.js runs it large with a JSON report.
 */

/** What {@link runServeLoad} sends. */
export interface ServeLoadPlan {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly base: string;
  readonly clients: number;
  /** Generations per client. */
  readonly generationsPerClient: number;
  /** A client sends an edit after every `editEvery` generations (0: no edits). */
  readonly editEvery: number;
  readonly prompts: readonly string[];
  /** Edits, handed out to clients in turn; the run stops sending edits when they are used up. */
  readonly edits: readonly { readonly prompt: string; readonly target: string }[];
  readonly maxNewTokens: number;
  /** Extra headers (a bearer token). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** One answered request. */
export interface ServeLoadAnswer {
  readonly kind: 'generate' | 'edit';
  readonly status: number;
  readonly ms: number;
  readonly body: Record<string, unknown>;
  /** What was sent. */
  readonly sent: Record<string, unknown>;
}

/** The q-quantile (0..1) of `values` by the nearest-rank rule; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

async function post(plan: ServeLoadPlan, url: string, kind: ServeLoadAnswer['kind'], sent: Record<string, unknown>): Promise<ServeLoadAnswer> {
  const t0 = performance.now();
  const res = await fetch(plan.base + url, {
    method: 'POST', headers: { 'content-type': 'application/json', ...(plan.headers ?? {}) }, body: JSON.stringify(sent) });
  const body = (await res.json()) as Record<string, unknown>;
  return { kind, status: res.status, ms: performance.now() - t0, body, sent };
}

/** Runs the plan; resolves with every answer once all clients are done. */
export async function runServeLoad(plan: ServeLoadPlan): Promise<{ answers: ServeLoadAnswer[]; seconds: number }> {
  const answers: ServeLoadAnswer[] = [];
  let nextEdit = 0;
  const t0 = performance.now();
  const client = async (c: number): Promise<void> => {
    for (let i = 0; i < plan.generationsPerClient; i++) {
      const prompt = plan.prompts[(c + i * plan.clients) % plan.prompts.length];
      answers.push(await post(plan, '/api/generate', 'generate', { prompt, max_new_tokens: plan.maxNewTokens }));
      if (plan.editEvery > 0 && (i + 1) % plan.editEvery === 0 && nextEdit < plan.edits.length) {
        const e = plan.edits[nextEdit++];
        answers.push(await post(plan, '/api/edits', 'edit', { prompt: e.prompt, target: e.target }));
      }
    }
  };
  await Promise.all(Array.from({ length: plan.clients }, (_, c) => client(c)));
  return { answers, seconds: (performance.now() - t0) / 1000 };
}

/** p50 / p95 / max latency (ms) and counts of the answers of one kind. */
export function latencySummary(answers: readonly ServeLoadAnswer[], kind: ServeLoadAnswer['kind']):
  { count: number; ok: number; p50: number; p95: number; max: number } {
  const mine = answers.filter((a) => a.kind === kind);
  const ms = mine.map((a) => a.ms);
  const round = (x: number): number => Math.round(x * 10) / 10;
  return { count: mine.length, ok: mine.filter((a) => a.status === 200).length, p50: round(quantile(ms, 0.5)),
    p95: round(quantile(ms, 0.95)), max: round(Math.max(...ms)) };
}
