import { shapeKey, IGNORE_INDEX } from './types';

describe('shared types', () => {
  it('groups modules by (dIn, dOut)', () => {
    expect(shapeKey({ dIn: 64, dOut: 256 })).toBe('64x256');
    expect(shapeKey({ dIn: 256, dOut: 64 })).not.toBe(shapeKey({ dIn: 64, dOut: 256 }));
  });
  it('uses the PyTorch ignore index', () => {
    expect(IGNORE_INDEX).toBe(-100);
  });
});
