export * from './types';
export { RunDir, claimRunDir, settingsKey } from './state';
export * from './cases';
export * from './run';
export * from './defaults';
export * from './requestFiles';
export { scoreFinalModel, type EditorRecord, type FinalModelInputs } from './evaluate';
