/**
 * A value as an error message shows it: strings quoted, so a setting given as "40" reads `got "40"` rather
 * than `got 40`, which looks like a valid integer; everything else as String() gives it (NaN stays NaN).
 */
export function describeValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
