/**
 * The page of `hiedit serve`: ask the model, correct it, watch the journal and undo an edit. It talks only to the
 * server it came from; every server string reaches the DOM as text (never as HTML).
 */
import type { Answer, ServedEditDetail as Detail, ServedEditReport, ServedJournalEdit } from '../src/serve/wire';

const TOKEN_KEY = 'hiedit-serve-token';

/** A token given as `#token=...` is kept for this tab and removed from the address bar. */
function token(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page: #${id} is missing`);
  return e as T;
}

function status(text: string): void {
  el('status').textContent = text;
}

async function api<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  const t = token();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const data = await res.json();
  if (!res.ok) throw new Error(`${data.field ?? 'request'} ${data.problem ?? res.statusText}`);
  return data as T;
}

/** Runs an action with its button disabled, showing a failure in the status line. */
async function busy(button: HTMLButtonElement, action: () => Promise<void>): Promise<void> {
  button.disabled = true;
  status('');
  try {
    await action();
  } catch (e) {
    status((e as Error).message);
  } finally {
    button.disabled = false;
  }
}

function showAnswer(out: HTMLElement, a: Answer): void {
  out.textContent = a.text || '(nothing)';
  out.className = a.isTarget ? 'holds' : 'misses';
}

function cell(row: HTMLTableRowElement, text: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  return td;
}

async function refreshInfo(): Promise<void> {
  const h = await api<{ model: { modelType: string; numLayers: number }; editor: { kind: string }; journal: { active: number };
    export: boolean }>('GET', '/api/health');
  el('model-info').textContent = `${h.model.modelType}, ${h.model.numLayers} layers, editor ${h.editor.kind}, ` +
    `${h.journal.active} active edit(s)`;
  el('export').hidden = !h.export;
}

async function showDetail(id: string): Promise<void> {
  const d = await api<Detail>('GET', `/api/edits/${encodeURIComponent(id)}`);
  el('detail').hidden = false;
  el('detail-id').textContent = `${d.id}${d.rolledBack ? ' (rolled back)' : ''}`;
  el('detail-request').textContent = `"${d.request.prompt}" → "${d.request.target}"` +
    (d.request.paraphrases.length ? `; paraphrases: ${d.request.paraphrases.join(' | ')}` : '');
  if (d.report) {
    showAnswer(el('detail-before'), d.report.before);
    showAnswer(el('detail-after'), d.report.after);
  } else {
    el('detail-before').textContent = '(applied before this server started)';
    el('detail-after').textContent = '';
  }
  showAnswer(el('detail-now'), d.now);
  const list = el('detail-modules');
  list.replaceChildren(...(d.modules.length ? d.modules : ['no module shifted']).map((m) => {
    const li = document.createElement('li');
    li.textContent = m in d.norms ? `${m}: |ΔW| ${d.norms[m].toExponential(2)}` : m;
    return li;
  }));
  for (const row of el('edits').querySelectorAll('tr')) row.classList.toggle('selected', row.dataset.id === id);
}

async function refreshEdits(): Promise<void> {
  const { edits } = await api<{ edits: ServedJournalEdit[] }>('GET', '/api/edits');
  const body = el<HTMLTableSectionElement>('edits');
  body.replaceChildren();
  for (const e of [...edits].reverse()) {
    const row = body.insertRow();
    row.dataset.id = e.id;
    if (e.rolledBack) row.className = 'rolled-back';
    cell(row, e.id);
    cell(row, e.request.prompt);
    cell(row, e.request.target);
    cell(row, e.modules.join(', ') || '(none)');
    cell(row, new Date(e.time).toLocaleTimeString());
    cell(row, e.rolledBack ? 'rolled back' : 'active');
    const td = row.insertCell();
    if (!e.rolledBack) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'rollback';
      b.dataset.id = e.id;
      b.textContent = 'Roll back';
      b.addEventListener('click', (ev) => {
        ev.stopPropagation();
        void busy(b, async () => {
          await api('POST', `/api/edits/${encodeURIComponent(e.id)}/rollback`);
          await Promise.all([refreshEdits(), refreshInfo()]);
          await showDetail(e.id);
        });
      });
      td.append(b);
    }
    row.addEventListener('click', () => void showDetail(e.id).catch((err) => status((err as Error).message)));
  }
}

function wire(): void {
  el('generate-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void busy(el<HTMLButtonElement>('generate'), async () => {
      el('generation').textContent = '…';
      const r = await api<{ text: string }>('POST', '/api/generate', {
        prompt: el<HTMLInputElement>('prompt').value, max_new_tokens: Number(el<HTMLInputElement>('max-new-tokens').value) });
      el('generation').textContent = r.text || '(nothing)';
    });
  });
  el('edit-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void busy(el<HTMLButtonElement>('apply'), async () => {
      const paraphrases = el<HTMLTextAreaElement>('edit-paraphrases').value.split('\n').map((s) => s.trim()).filter(Boolean);
      const r = await api<ServedEditReport>('POST', '/api/edits', {
        prompt: el<HTMLInputElement>('edit-prompt').value, target: el<HTMLInputElement>('edit-target').value,
        ...(paraphrases.length ? { paraphrases } : {}) });
      el('report').hidden = false;
      el('report-id').textContent = r.id;
      el('report-applied').textContent = r.applied
        ? `${r.editor} shifted ${r.modules.length} module(s), strength ${r.strength.toExponential(2)}, ${r.ms.toFixed(0)} ms`
        : `${r.editor} found no shift that makes it hold; nothing applied (${r.ms.toFixed(0)} ms)`;
      showAnswer(el('report-before'), r.before);
      showAnswer(el('report-after'), r.after);
      el('report-modules').textContent = r.modules.map((m) => m.module).join(', ');
      await Promise.all([refreshEdits(), refreshInfo()]);
    });
  });
  el('refresh').addEventListener('click', () => void busy(el<HTMLButtonElement>('refresh'), async () => {
    await Promise.all([refreshEdits(), refreshInfo()]);
  }));
  el('export').addEventListener('click', () => void busy(el<HTMLButtonElement>('export'), async () => {
    const r = await api<{ edits: number; dtype: string }>('POST', '/api/export', {});
    status(`exported the model with ${r.edits} edit(s) (${r.dtype})`);
  }));
}

wire();
void Promise.all([refreshInfo(), refreshEdits()]).catch((e) => status((e as Error).message));
