export * as tf from '@tensorflow/tfjs';
export * from './types';
