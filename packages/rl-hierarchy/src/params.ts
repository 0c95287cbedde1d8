/**
 * Named trainable variables of a policy. tfjs variable names are global to the engine, so the
 * variables get engine-unique automatic names and this set keeps the stable, saved names.
 */
import { tf } from '@hiedit/tensor-core';

/** A host copy of one parameter (what safetensors files hold). */
export interface HostParam {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Ordered collection of named tf.Variables; order is insertion order and is part of determinism. */
export class ParamSet {
  private readonly vars = new Map<string, tf.Variable>();

  /** Register a variable initialized from `init` (the set takes ownership of `init`). */
  add(name: string, init: tf.Tensor): tf.Variable {
    if (this.vars.has(name)) {
      init.dispose();
      throw new Error(`parameter ${name} is defined twice`);
    }
    const v = tf.variable(init, true);
    init.dispose();
    this.vars.set(name, v);
    return v;
  }

  /** The variable called `name`; a clear error if it does not exist. */
  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`parameter ${name} does not exist`);
    return v;
  }

  has(name: string): boolean {
    return this.vars.has(name);
  }

  names(): string[] {
    return [...this.vars.keys()];
  }

  /** Names starting with `prefix`, in order. */
  namesWithPrefix(prefix: string): string[] {
    return this.names().filter((n) => n.startsWith(prefix));
  }

  /** Total number of scalars. */
  size(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  /** Host copies of every parameter, in order. */
  toHost(): HostParam[] {
    return this.names().map((name) => {
      const v = this.get(name);
      return { name, shape: v.shape.slice(), data: Float32Array.from(v.dataSync() as Float32Array) };
    });
  }

  /** Overwrite parameter values from host copies; every parameter must be present with its exact shape. */
  fromHost(lookup: (name: string) => { shape: number[]; data: ArrayLike<number> } | undefined, source: string): void {
    for (const name of this.names()) {
      const v = this.get(name);
      const h = lookup(name);
      if (!h) throw new Error(`${source}: parameter ${name} is missing`);
      if (h.shape.length !== v.shape.length || h.shape.some((d, i) => d !== v.shape[i])) {
        throw new Error(`${source}: parameter ${name} has shape ${JSON.stringify(h.shape)}, the policy expects ${JSON.stringify(v.shape)}`);
      }
      const t = tf.tensor(Float32Array.from(h.data), v.shape);
      v.assign(t);
      t.dispose();
    }
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}
