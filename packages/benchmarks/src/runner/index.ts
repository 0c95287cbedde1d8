export * from './types';
export * from './state';
export * from './cases';
export * from './run';
export * from './defaults';
