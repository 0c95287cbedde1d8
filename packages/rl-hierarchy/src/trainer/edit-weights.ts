/**
 * The model's edit-module weights as the trainer keeps them on the host: the base weights training starts from
 * (and leaves the model at), and a paused trajectory.
 */
import { readHostWeights, writeHostWeights } from '@hiedit/tensor-core';
import type { EditableModel } from '@hiedit/tensor-core';
import type { HostParam } from '../params';

/** Snapshot of edit-module weights on the host. */
export type WeightSnapshot = HostParam[];

/** Base and paused-trajectory weights of the edit modules `names` of `model`. */
export class EditWeights {
  /** The weights training starts every epoch from. */
  base: WeightSnapshot;
  /** Edit-module weights of a paused trajectory, held on the host while the model is back at its base weights. */
  trajectory: WeightSnapshot | null = null;

  constructor(
    private readonly model: EditableModel,
    private readonly names: readonly string[],
  ) {
    this.base = this.read();
  }

  /** The model's current edit-module weights. */
  read(): WeightSnapshot {
    return readHostWeights(this.model, this.names);
  }

  write(snap: WeightSnapshot): void {
    writeHostWeights(this.model, snap);
  }

  /** Put the base weights back into the model. */
  reset(): void {
    this.write(this.base);
  }

  /** Keep the model's trajectory on the host and put the base weights back. */
  park(): void {
    this.trajectory = this.read();
    this.reset();
  }

  /** Put a parked trajectory back when training continues inside an epoch (between epochs it is not needed). */
  resume(insideEpoch: boolean): void {
    if (this.trajectory) {
      if (insideEpoch) this.write(this.trajectory);
      this.trajectory = null;
    }
  }

  /** The trajectory to save: the parked one, or the model's current weights. */
  current(): WeightSnapshot {
    return this.trajectory ?? this.read();
  }
}
