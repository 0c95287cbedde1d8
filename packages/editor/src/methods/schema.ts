/**
 * What every method's settings module shares: the settings version and the small checks its schema is made of.
 * Each check names the field it refuses, prefixed with where the settings came from (`hiedit settings`, ...).
 */

/**
 * Version of the resolved settings objects this code writes. editor.json files written before the field existed
 * (no `settingsVersion`) hold the same shape and read as version 1.
 */
export const SETTINGS_VERSION = 1;

/** A JSON object as read from a settings file or the command line. */
export type SettingsInput = Readonly<Record<string, unknown>>;

/** Refuses anything but a plain object. */
export function requireObject(v: unknown, where: string, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new Error(`${where}: field "${field}" must be an object, got ${JSON.stringify(v)}`);
  }
  return v as Record<string, unknown>;
}

/** Refuses fields outside `known`, listing the known ones. */
export function refuseUnknownFields(o: object, known: readonly string[], where: string): void {
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new Error(`${where}: unknown field(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
}

/**
 * The settings version of a stored (editor.json) settings object, and the object without it. Absent means 1: the
 * files written before the version was recorded. Newer versions are refused rather than misread.
 */
export function splitSettingsVersion(stored: SettingsInput, where: string): { version: number; rest: SettingsInput } {
  const { settingsVersion, ...rest } = stored;
  const version = settingsVersion ?? 1;
  if (!Number.isInteger(version) || (version as number) < 1 || (version as number) > SETTINGS_VERSION) {
    throw new Error(`${where}: settingsVersion ${JSON.stringify(settingsVersion)} is not supported (this code reads 1 to ${SETTINGS_VERSION})`);
  }
  return { version: version as number, rest };
}

/**
 * Guards `create` and `load` against unresolved input (a user's partial settings passed where the factory's
 * `resolveSettings` output belongs).
 */
export function requireResolved(s: { readonly settingsVersion?: unknown }, kind: string): void {
  if (s?.settingsVersion !== SETTINGS_VERSION) {
    throw new Error(`${kind}: create and load take resolved settings (settingsVersion ${SETTINGS_VERSION}); ` +
      `pass the user's settings through the factory's resolveSettings first`);
  }
}
