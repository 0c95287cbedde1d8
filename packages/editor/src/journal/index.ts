export * from './format';
export * from './records';
export * from './journal';
export * from './shifts';
export * from './fingerprint';
export * from './pack';
export { scanFrames } from './frames';
export type { FrameScan, FrameLocation } from './frames';
export * from './replay';
