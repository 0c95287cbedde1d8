export * from './results';
export * from './table';
export * from './html';
export * from './aggregate';
export * from './aggregateFormat';
export * from './aggregateProvenance';
export * from './aggregateHtml';
export * from './aggregateWrite';
