export * from './types';
export { answerPositions, checkTuple, contestScore, teacherForcedStats, tokenAccuracy, type BatchOptions } from './batch';
export * from './generation';
export * from './metrics';
export * from './stream';
export * from './position';
