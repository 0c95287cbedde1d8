/**
 * JSON schemas of every request body and parameter. Fastify validates with them before a route runs, so a route
 * only ever sees well-typed input; the error handler turns the first violation into a 400 naming the field.
 */
import { MAX_NEW_TOKENS } from './session';

/** Longest prompt, target or paraphrase accepted (characters). */
export const MAX_TEXT = 2000;
/** Most paraphrases one edit may carry. */
export const MAX_PARAPHRASES = 16;

const text = { type: 'string', minLength: 1, maxLength: MAX_TEXT } as const;

export const generateBody = {
  type: 'object',
  additionalProperties: false,
  required: ['prompt'],
  properties: {
    prompt: text,
    max_new_tokens: { type: 'integer', minimum: 1, maximum: MAX_NEW_TOKENS, default: 16 },
    stop_at_eos: { type: 'boolean', default: false },
  },
} as const;

export const editBody = {
  type: 'object',
  additionalProperties: false,
  required: ['prompt', 'target'],
  properties: {
    prompt: text,
    target: text,
    paraphrases: { type: 'array', maxItems: MAX_PARAPHRASES, items: text },
  },
} as const;

export const exportBody = {
  type: 'object',
  additionalProperties: false,
  properties: { dtype: { type: 'string', enum: ['f32', 'f16', 'bf16'], default: 'f32' } },
} as const;

export const editParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^e[1-9][0-9]{0,9}$' } },
} as const;

/** The typed bodies the schemas admit (with defaults filled in). */
export interface GenerateBody { prompt: string; max_new_tokens: number; stop_at_eos: boolean }
export interface EditBody { prompt: string; target: string; paraphrases?: string[] }
export interface ExportBody { dtype: 'f32' | 'f16' | 'bf16' }
export interface EditParams { id: string }
