/** The loader's CLI commands, bound to the real library. */
import { backendReport, gpuReport, initBackend, type CliCommand } from '@hiedit/tensor-core';
import { loadModel } from '../load';
import { loadTokenizer } from '../tokenizer';
import type { LoaderApi } from './api';
import { createLoaderCommands } from './loader-commands';

/** The library functions the commands run on. */
export const loaderApi: LoaderApi = { loadModel, loadTokenizer, initBackend, backendReport, gpuReport };

/** `info`, `forward`, `grad`, `tokenize`, `generate`, `doctor`: the loader's part of `hiedit`. */
export const loaderCommands: CliCommand[] = createLoaderCommands(loaderApi);

export { createLoaderCommands } from './loader-commands';
export type { LoaderApi, CliModel, CliBackendReport } from './api';
