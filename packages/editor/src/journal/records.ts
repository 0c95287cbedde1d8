/**
 * Record types of edit journals and packs, and their (de)serialization to payloads.
 * Shift data are float32 arrays exactly as applied, so replay reproduces the edited weights bitwise.
 */
import type { HostShift } from '@hiedit/tensor-core';
import { BlobRef, DecodedPayload, encodePayload, FORMAT_VERSION, layoutBlobs } from './format';

/** Who the base model is: enough to tell two models apart in an error message. */
export interface ModelIdentity {
  readonly modelType: string;
  readonly architecture: string;
  readonly numLayers?: number;
  readonly hiddenSize?: number;
  readonly vocabSize?: number;
  /** Where it was loaded from, when known (informational only). */
  readonly source?: string;
}

/** Shape of one module as recorded in a header. */
export interface ModuleShape {
  readonly name: string;
  readonly dIn: number;
  readonly dOut: number;
  readonly layer: number;
}

/** First record of every journal and pack. */
export interface JournalHeader {
  readonly formatVersion: number;
  readonly createdAt: string;
  /** `CausalLM.weightsHash()` of the base model the shifts apply to. */
  readonly baseWeightsHash: string;
  /**
   * `configHash` of the base model's parsed config (see fingerprint.ts). Absent in journals written before it was
   * recorded: those are checked on the weights and shapes only.
   */
  readonly baseConfigHash?: string;
  /** `tokenizerHash` of the base model's tokenizer files; absent when it had none or the journal predates it. */
  readonly baseTokenizerHash?: string;
  readonly model: ModelIdentity;
  /** Shapes of every editable module of the base model. */
  readonly modules: readonly ModuleShape[];
}

/** The request as the user gave it (text), kept for audit and replay reports. */
export interface JournalRequest {
  readonly id?: string;
  readonly prompt: string;
  readonly target: string;
  readonly paraphrases?: readonly string[];
  readonly locality?: readonly { readonly prompt: string; readonly answer: string }[];
}

/**
 * What makes two requests the same request: id, prompt, target, paraphrases and locality prompts (the fields a
 * journal records), in a fixed order, so a request read again from the same file finds the edit that holds it.
 */
export function requestKey(r: JournalRequest): string {
  return JSON.stringify([r.id ?? null, r.prompt, r.target, r.paraphrases ?? [],
    (r.locality ?? []).map((l) => [l.prompt, l.answer])]);
}

/** One module's applied shift, host side (tensor-core's HostShift). Low-rank shifts keep their factors. */
export type StoredShift = HostShift;

/** Metadata of an edit record (its shifts are read on demand: a long journal does not sit in memory). */
export interface EditRecordInfo {
  readonly type: 'edit';
  /** Journal-assigned id (`e1`, `e2`, ...), used by rollback. */
  readonly editId: string;
  readonly time: string;
  /** Editor kind that produced the shift (`hiedit`, `ft`, ...). */
  readonly editor: string;
  readonly request: JournalRequest;
  /** Modules whose weights were shifted, in policy order. */
  readonly selected: readonly string[];
  /** Gate score per candidate module (empty when the editor has no gate). */
  readonly scores: Readonly<Record<string, number>>;
  /** Frobenius norm of the applied shift per selected module. */
  readonly norms: Readonly<Record<string, number>>;
}

/** A rollback record: the edit it names no longer counts. */
export interface RollbackRecordInfo {
  readonly type: 'rollback';
  readonly editId: string;
  readonly time: string;
}

export type JournalRecordInfo = EditRecordInfo | RollbackRecordInfo;

interface ShiftJson {
  module: string; kind: 'lowRank' | 'dense'; dIn: number; dOut: number; rank?: number;
  left?: BlobRef; right?: BlobRef; delta?: BlobRef;
}

/** Checks a stored shift's array lengths against its declared shape. */
export function checkStoredShift(s: StoredShift, where: string): void {
  const dims = [s.dIn, s.dOut];
  if (!dims.every((d) => Number.isInteger(d) && d > 0)) throw new Error(`${where}: shift of ${s.module} has bad shape ${dims}`);
  if (s.kind === 'lowRank') {
    if (!Number.isInteger(s.rank) || s.rank < 1) throw new Error(`${where}: shift of ${s.module} has bad rank ${s.rank}`);
    if (s.left.length !== s.dIn * s.rank || s.right.length !== s.rank * s.dOut) {
      throw new Error(`${where}: shift of ${s.module}: factor sizes ${s.left.length}, ${s.right.length} do not match ` +
        `(${s.dIn} x ${s.rank}) and (${s.rank} x ${s.dOut})`);
    }
  } else if (s.delta.length !== s.dIn * s.dOut) {
    throw new Error(`${where}: dense shift of ${s.module} has ${s.delta.length} values, expected ${s.dIn} x ${s.dOut}`);
  }
}

/** Encodes a header record payload. */
export function encodeHeader(h: JournalHeader): Buffer {
  return encodePayload({ type: 'header', ...h }, []);
}

/** Encodes an edit record payload with its shifts. */
export function encodeEdit(info: Omit<EditRecordInfo, 'type'>, shifts: readonly StoredShift[]): Buffer {
  const arrays: Float32Array[] = [];
  for (const s of shifts) {
    if (s.kind === 'lowRank') arrays.push(s.left, s.right);
    else arrays.push(s.delta);
  }
  const refs = layoutBlobs(arrays.map((a) => a.length));
  let r = 0;
  const shiftJson: ShiftJson[] = shifts.map((s) => s.kind === 'lowRank'
    ? { module: s.module, kind: s.kind, dIn: s.dIn, dOut: s.dOut, rank: s.rank, left: refs[r++], right: refs[r++] }
    : { module: s.module, kind: s.kind, dIn: s.dIn, dOut: s.dOut, delta: refs[r++] });
  return encodePayload({ type: 'edit', ...info, shifts: shiftJson }, arrays);
}

/** Encodes a rollback record payload. */
export function encodeRollback(info: Omit<RollbackRecordInfo, 'type'>): Buffer {
  return encodePayload({ type: 'rollback', ...info }, []);
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Error(`${where}: field "${key}" must be a string`);
  return v;
}

function num(o: Record<string, unknown>, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: field "${key}" must be a finite number`);
  return v;
}

/** Parses and validates a header payload. */
export function decodeHeader(p: DecodedPayload, where: string): JournalHeader {
  const j = p.json;
  if (j.type !== 'header') throw new Error(`${where}: the first record must be a header, found type ${JSON.stringify(j.type)}`);
  const formatVersion = num(j, 'formatVersion', where);
  if (formatVersion !== FORMAT_VERSION) {
    throw new Error(`${where}: format version ${formatVersion} is not supported (this build reads version ${FORMAT_VERSION})`);
  }
  const model = j.model as Record<string, unknown>;
  if (!model || typeof model !== 'object') throw new Error(`${where}: field "model" must be an object`);
  str(model, 'modelType', `${where} model`);
  str(model, 'architecture', `${where} model`);
  if (!Array.isArray(j.modules)) throw new Error(`${where}: field "modules" must be an array`);
  const modules = (j.modules as Record<string, unknown>[]).map((m, i) => ({
    name: str(m, 'name', `${where} modules[${i}]`), dIn: num(m, 'dIn', `${where} modules[${i}]`),
    dOut: num(m, 'dOut', `${where} modules[${i}]`), layer: num(m, 'layer', `${where} modules[${i}]`),
  }));
  const optional = (key: 'baseConfigHash' | 'baseTokenizerHash'): Partial<JournalHeader> =>
    j[key] === undefined ? {} : { [key]: str(j, key, where) };
  return {
    formatVersion, createdAt: str(j, 'createdAt', where), baseWeightsHash: str(j, 'baseWeightsHash', where),
    ...optional('baseConfigHash'), ...optional('baseTokenizerHash'),
    model: model as unknown as ModelIdentity, modules,
  };
}

/** Parses the metadata of an edit or rollback record (not the shift arrays). */
export function decodeRecordInfo(p: DecodedPayload, where: string): JournalRecordInfo {
  const j = p.json;
  if (j.type === 'rollback') return { type: 'rollback', editId: str(j, 'editId', where), time: str(j, 'time', where) };
  if (j.type !== 'edit') throw new Error(`${where}: unknown record type ${JSON.stringify(j.type)}`);
  const request = j.request as Record<string, unknown>;
  if (!request || typeof request !== 'object') throw new Error(`${where}: field "request" must be an object`);
  if (!Array.isArray(j.selected)) throw new Error(`${where}: field "selected" must be an array`);
  if (!Array.isArray(j.shifts)) throw new Error(`${where}: field "shifts" must be an array`);
  return {
    type: 'edit', editId: str(j, 'editId', where), time: str(j, 'time', where), editor: str(j, 'editor', where),
    request: request as unknown as JournalRequest, selected: j.selected as string[],
    scores: (j.scores ?? {}) as Record<string, number>, norms: (j.norms ?? {}) as Record<string, number>,
  };
}

/** Reads the shift arrays of an edit record payload. */
export function decodeShifts(p: DecodedPayload, where: string): StoredShift[] {
  const list = p.json.shifts;
  if (!Array.isArray(list)) throw new Error(`${where}: field "shifts" must be an array`);
  return (list as ShiftJson[]).map((s, i) => {
    const w = `${where} shifts[${i}]`;
    const o = s as unknown as Record<string, unknown>;
    const base = { module: str(o, 'module', w), dIn: num(o, 'dIn', w), dOut: num(o, 'dOut', w) };
    let out: StoredShift;
    if (s.kind === 'lowRank') {
      if (!s.left || !s.right) throw new Error(`${w}: low-rank shift lacks "left" or "right"`);
      out = { ...base, kind: 'lowRank', rank: num(o, 'rank', w), left: p.blob(s.left), right: p.blob(s.right) };
    } else if (s.kind === 'dense') {
      if (!s.delta) throw new Error(`${w}: dense shift lacks "delta"`);
      out = { ...base, kind: 'dense', delta: p.blob(s.delta) };
    } else {
      throw new Error(`${w}: unknown shift kind ${JSON.stringify(s.kind)}`);
    }
    checkStoredShift(out, w);
    return out;
  });
}
