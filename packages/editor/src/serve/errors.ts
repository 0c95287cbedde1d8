/** Errors the server turns into HTTP answers: a status, the field at fault and what is wrong with it. */

/** A request the server refuses; `field` names the part of the request at fault (`body`, `prompt`, `id`, ...). */
export class RequestError extends Error {
  constructor(
    /** HTTP status: 400 bad field, 404 unknown edit, 409 conflicting state, 429 queue full. */
    readonly status: number,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'RequestError';
  }
}

/** The JSON body of every refused request. */
export interface ErrorBody {
  readonly error: string;
  readonly field: string;
  readonly problem: string;
}
