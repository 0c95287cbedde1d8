/** Settings of `noop`: it has none; the resolved object only records the settings version. */
import { refuseUnknownFields, SETTINGS_VERSION, SettingsInput, splitSettingsVersion } from '../schema';

/** The resolved `noop` settings (editor.json). */
export interface ResolvedNoopSettings {
  readonly settingsVersion: typeof SETTINGS_VERSION;
  readonly [field: string]: unknown;
}

/** Refuses any setting (noop has none). */
export function resolve(given: SettingsInput): ResolvedNoopSettings {
  refuseUnknownFields(given, [], 'noop settings');
  return { settingsVersion: SETTINGS_VERSION };
}

/** Reads editor.json's copy back. */
export function readStored(stored: SettingsInput): ResolvedNoopSettings {
  return resolve(splitSettingsVersion(stored, 'noop settings').rest);
}
