/**
 * What the loader commands need from the library, as structural types. The commands receive an
 * implementation (the real one in ./index.ts), which keeps them testable and free of import cycles.
 */
import type { BackendName, BackendReport, GpuReport } from '@hiedit/tensor-core';
import type { Tokenizer } from '../tokenizer';

/** The subset of CausalLM the commands use. */
export interface CliModel {
  readonly config: {
    readonly modelType: string;
    readonly architecture: string;
    readonly vocabSize: number;
    readonly hiddenSize: number;
    readonly numLayers: number;
    readonly numHeads: number;
    readonly numKvHeads: number;
    readonly headDim: number;
    readonly intermediateSize: number;
    readonly maxPositions: number;
    readonly tieWordEmbeddings: boolean;
    readonly scaleAttnWeights: boolean;
    readonly layerWindows?: readonly (number | null)[];
    readonly attnSoftcap?: number;
    readonly finalSoftcap?: number;
    readonly attentionScale?: number;
    readonly normUnitOffset?: boolean;
    readonly sandwichNorms?: boolean;
    readonly qkNorm?: boolean;
  };
  readonly tokenizer: Tokenizer | undefined;
  readonly sourceDtype: string;
  readonly modules: readonly { readonly name: string }[];
  parameterNames(): string[];
  parameterCount(): number;
  logits(ids: number[]): { shape: [number, number]; data: Float32Array };
  loss(ids: number[]): number;
  grad(param: string, ids: number[]): { loss: number; shape: number[]; grad: Float32Array };
  generate(ids: number[], maxNewTokens: number, opts?: { stopAtEos?: boolean }): number[];
  dispose(): void;
}

/** Backend report as tensor-core's backendReport() gives it. */
export type CliBackendReport = BackendReport;

/** The library functions the commands call. */
export interface LoaderApi {
  loadModel(dir: string, opts?: { tokenizer?: boolean }): Promise<CliModel>;
  loadTokenizer(pathOrDir: string): Promise<Tokenizer>;
  initBackend(opts?: { backend?: BackendName }): Promise<CliBackendReport>;
  backendReport(): CliBackendReport;
  /** The GPU path's verdict (tfjs-node-gpu installed? CUDA found? did a matmul run on the GPU?), after initBackend. */
  gpuReport(): GpuReport;
}
