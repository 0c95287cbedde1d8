/**
 * The training loop: epochs over the shuffled stream, one step per request with its back-tracking window, the
 * update schedule's end-of-epoch step, validation and early stopping, pausing at maxSteps, and checkpoints.
 */
import type { TokenizedEditRequest } from '@hiedit/tensor-core';
import type { TrainProgress, TrainResult } from '../trainer-options';
import type { TrainingRun } from './context';
import { runStep } from './step';
import { validateStream } from './stream';
import { validationScore } from './validation';

/** What the loop needs from the trainer that runs it. */
export interface SessionHooks {
  /** Write the complete training state to `dir`. */
  saveState(dir: string): void;
  /** Training seconds so far, earlier sessions included. */
  elapsedSeconds(): number;
}

/**
 * Run (or continue) `run` over `train`, validating on `validation` after each epoch (hiedit mode). Returns when done
 * or paused at maxSteps; either way the model's edit modules hold their base weights again. On an error the model is
 * restored to its base weights and the error names the request.
 */
export function runSession(run: TrainingRun, train: readonly TokenizedEditRequest[], validation: readonly TokenizedEditRequest[], hooks: SessionHooks): TrainResult {
  const { ctx, position: p, editWeights, updates, earlyStop } = run;
  if (train.length === 0) throw new Error('trainer: the training stream is empty');
  if (p.streamLength >= 0 && p.streamLength !== train.length) {
    throw new Error(`trainer: resumed with a training stream of ${train.length} requests, the saved run had ${p.streamLength}`);
  }
  validateStream(train, 'training stream');
  validateStream(validation, 'validation stream');
  p.streamLength = train.length;
  if (ctx.policy.needsKeyCovariances()) {
    // Once, under the base weights and before any step: C is frozen from here on (a resumed run restores it
    // from the training state instead), so the policy trained is the policy later used.
    editWeights.reset();
    ctx.policy.estimateKeyCovariances(ctx.model, train);
  }
  const o = ctx.options;
  let stoppedEarly = false;
  editWeights.resume(p.order !== null);
  while (!p.finished && p.epoch < o.epochs) {
    if (p.order === null) {
      editWeights.reset();
      p.startEpoch(train.length, o.shuffle, run.rng);
    }
    while (p.position < train.length) {
      if (o.maxSteps !== undefined && p.step >= o.maxSteps) return pause(run, hooks);
      try {
        trainStep(run, train, hooks);
      } catch (e) {
        // leave the model as it was given; the last checkpoint on disk stays valid for a resume
        editWeights.reset();
        const id = train[p.current()].id;
        throw new Error(`training request ${JSON.stringify(id)} (epoch ${p.epoch}, position ${p.position}): ${(e as Error).message}`);
      }
    }
    // reference: Adam steps once per epoch; hiedit: a partial last group of requests still counts
    updates.flush();
    const ev: TrainProgress = { kind: 'epoch', epoch: p.epoch, meanLoss: p.epochLossSum / Math.max(1, p.epochLossCount) };
    if (validation.length && o.mode === 'hiedit') {
      const score = validationScore(ctx, validation, editWeights);
      const improved = earlyStop.record(score, ctx.policy);
      Object.assign(ev, { validation: score, best: earlyStop.bestValidation, improved });
    }
    o.onProgress?.(ev);
    p.nextEpoch();
    if (earlyStop.shouldStop(o.patience)) {
      stoppedEarly = true;
      o.onProgress?.({ kind: 'early-stop', epoch: p.epoch, best: earlyStop.bestValidation! });
      break;
    }
  }
  if (!p.finished) {
    earlyStop.restoreBest(ctx.policy);
    p.finished = true;
    editWeights.reset();
    updates.clearAccumulated();
    if (o.checkpoint) hooks.saveState(o.checkpoint.dir);
  }
  return { status: 'done', steps: p.step, epochsCompleted: p.epoch, bestValidation: earlyStop.bestValidation, stoppedEarly, seconds: hooks.elapsedSeconds() };
}

/** Stop at maxSteps: the trajectory is kept on the host (and in the checkpoint), the model goes back to its base weights. */
function pause(run: TrainingRun, hooks: SessionHooks): TrainResult {
  const { options } = run.ctx;
  run.editWeights.park();
  if (options.checkpoint) hooks.saveState(options.checkpoint.dir);
  return { status: 'maxSteps', steps: run.position.step, epochsCompleted: run.position.epoch, bestValidation: run.earlyStop.bestValidation, stoppedEarly: false, seconds: hooks.elapsedSeconds() };
}

/** One step on the request at the current position, its progress event, and a checkpoint when one is due. */
function trainStep(run: TrainingRun, train: readonly TokenizedEditRequest[], hooks: SessionHooks): void {
  const { ctx, position: p } = run;
  const o = ctx.options;
  const request = train[p.current()];
  const requests = p.window(o.backDepth).map((i) => train[i]);
  const s = runStep(ctx, run.updates, request, requests, p.step);
  p.advance(s.loss);
  o.onProgress?.({
    kind: 'step',
    epoch: p.epoch,
    step: p.step,
    position: p.position - 1,
    requestId: request.id,
    loss: s.loss,
    gen: s.gen,
    loc: s.loc,
    reg: s.reg,
    full: s.full,
    advantage: s.full === undefined ? undefined : s.loss - s.full,
    selected: s.selected,
    gradNorm: s.gradNorm,
    updated: s.updated,
  });
  if (o.checkpoint && p.step % o.checkpoint.everySteps === 0) {
    hooks.saveState(o.checkpoint.dir);
    o.onProgress?.({ kind: 'checkpoint', dir: o.checkpoint.dir, step: p.step });
  }
}
