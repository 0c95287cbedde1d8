/**
 * The server's safety rules: loopback unless a token is configured, bearer tokens compared in constant time, and
 * (on loopback) a Host check so a web page cannot reach the server through DNS rebinding.
 */
import { createHash, timingSafeEqual } from 'crypto';
import * as fs from 'fs';

/** Shortest bearer token accepted from --token-file (characters). */
export const MIN_TOKEN_LENGTH = 16;

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** Reads the token of --token-file: its content without surrounding whitespace, at least MIN_TOKEN_LENGTH long. */
export function readTokenFile(file: string): string {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`--token-file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const token = raw.trim();
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new Error(`--token-file ${file}: the token must be at least ${MIN_TOKEN_LENGTH} characters (got ${token.length})`);
  }
  if (/\s/.test(token)) throw new Error(`--token-file ${file}: the token must be one line without spaces`);
  return token;
}

/**
 * Checks an Authorization header against the token. Both sides are hashed first so the comparison has a fixed
 * length and takes the same time whatever the header holds.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (\S+)$/.exec(header ?? '')?.[1] ?? '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b) && given.length > 0;
}

/** The host name of a Host header (`127.0.0.1:8080` -> `127.0.0.1`, `[::1]:80` -> `::1`). */
export function hostName(header: string | undefined): string {
  const h = (header ?? '').trim();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  return h.split(':')[0];
}
