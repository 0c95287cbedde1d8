/**
 * Validation of raw dataset records. Every problem becomes a {@link DatasetError} that names the file,
 * the record index and the field, so a broken dataset is fixed at the right line instead of silently
 * shrinking a benchmark.
 */

/** A record (or the whole file) failed validation. */
export class DatasetError extends Error {
  constructor(
    readonly label: string,
    /** Record index, or -1 when the problem is with the file as a whole. */
    readonly index: number,
    /** Dotted path of the offending field ('' for the record itself). */
    readonly field: string,
    readonly problem: string,
  ) {
    super(
      index < 0
        ? `${label}: ${problem}`
        : field === ''
          ? `${label}: record ${index}: ${problem}`
          : `${label}: record ${index}: field "${field}" ${problem}`,
    );
    this.name = 'DatasetError';
  }
}

/** How an error names a value of the wrong kind: "null", "an array", "an empty string", "a number"... */
export function describeKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.trim() === '' ? 'an empty string' : 'a string';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** Reads typed fields out of one raw record, throwing a {@link DatasetError} on the first bad one. */
export class RecordReader {
  private readonly obj: Record<string, unknown>;

  constructor(
    readonly label: string,
    readonly index: number,
    raw: unknown,
    private readonly prefix = '',
  ) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new DatasetError(label, index, prefix.replace(/\.$/, ''), `must be an object, got ${describeKind(raw)}`);
    }
    this.obj = raw as Record<string, unknown>;
  }

  /** A DatasetError about `field` of this record. */
  error(field: string, problem: string): DatasetError {
    return new DatasetError(this.label, this.index, this.prefix + field, problem);
  }

  has(field: string): boolean {
    return this.obj[field] !== undefined;
  }

  /** Whether `field` holds a string (of any content), for fields that take a string or another type. */
  isString(field: string): boolean {
    return typeof this.obj[field] === 'string';
  }

  /** A non-empty string, trimmed (a leading space would double the one tokenizeTuple puts before answers). */
  string(field: string): string {
    const v = this.obj[field];
    if (v === undefined) throw this.error(field, 'is missing (must be a non-empty string)');
    if (typeof v !== 'string' || v.trim() === '') throw this.error(field, `must be a non-empty string, got ${describeKind(v)}`);
    return v.trim();
  }

  optionalString(field: string): string | undefined {
    return this.has(field) ? this.string(field) : undefined;
  }

  /** A non-negative integer (accepts integral numbers only, not numeric strings). */
  nonNegativeInt(field: string): number {
    const v = this.obj[field];
    if (v === undefined) throw this.error(field, 'is missing (must be a non-negative integer)');
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw this.error(field, `must be a non-negative integer, got ${typeof v === 'number' ? v : describeKind(v)}`);
    }
    return v;
  }

  /** A non-empty array of non-empty strings (each element error names its position). */
  stringArray(field: string, opts: { allowEmpty?: boolean } = {}): string[] {
    const v = this.obj[field];
    if (v === undefined) throw this.error(field, 'is missing (must be an array of non-empty strings)');
    if (!Array.isArray(v)) throw this.error(field, `must be an array of non-empty strings, got ${describeKind(v)}`);
    if (v.length === 0 && !opts.allowEmpty) throw this.error(field, 'must not be an empty array');
    return v.map((x, i) => {
      if (typeof x !== 'string' || x.trim() === '') {
        throw this.error(`${field}[${i}]`, `must be a non-empty string, got ${describeKind(x)}`);
      }
      return x.trim();
    });
  }

  /** A string or an array of strings, normalized to an array (zsRE dumps use both for `rephrase`). */
  stringOrStringArray(field: string): string[] {
    const v = this.obj[field];
    if (typeof v === 'string' || v === undefined) return [this.string(field)];
    return this.stringArray(field);
  }

  /** A nested object, read with its own reader whose errors carry the dotted path. */
  object(field: string): RecordReader {
    const v = this.obj[field];
    if (v === undefined) throw this.error(field, 'is missing (must be an object)');
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw this.error(field, `must be an object, got ${describeKind(v)}`);
    return new RecordReader(this.label, this.index, v, `${this.prefix}${field}.`);
  }

  /** An array of objects, each read with its own reader (`field[i].x` in errors). */
  objectArray(field: string): RecordReader[] {
    const v = this.obj[field];
    if (v === undefined) throw this.error(field, 'is missing (must be an array of objects)');
    if (!Array.isArray(v)) throw this.error(field, `must be an array of objects, got ${describeKind(v)}`);
    return v.map((x, i) => {
      if (x === null || typeof x !== 'object' || Array.isArray(x)) {
        throw this.error(`${field}[${i}]`, `must be an object, got ${describeKind(x)}`);
      }
      return new RecordReader(this.label, this.index, x, `${this.prefix}${field}[${i}].`);
    });
  }
}
