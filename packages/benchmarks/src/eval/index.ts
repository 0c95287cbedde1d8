export * from './types';
export * from './batch';
export * from './generation';
export * from './metrics';
export * from './stream';
