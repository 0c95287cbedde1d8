export * from './results';
export * from './table';
export * from './html';
