import { acceleratorStatus, backendReport, initBackend, installAccelerator, uninstallAccelerator } from '@hiedit/tensor-core';
import { kernelsLabel } from './build';

describe('pretrain cache key: kernel configuration', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('names the active backend and matmul kernels', () => {
    const a = acceleratorStatus();
    expect(kernelsLabel()).toBe(`${backendReport().active}+${a.active ? a.name : 'stock'}`);
  });

  it('changes when the native matmul is switched off, so caches keep one entry per kernel set', () => {
    if (!acceleratorStatus().active) {
      console.log('skipping: the native accelerator is not active here (addon not built)');
      return;
    }
    const withNative = kernelsLabel();
    uninstallAccelerator();
    try {
      expect(acceleratorStatus().active).toBe(false);
      // backendReport() is a snapshot taken at init; the label must follow the live accelerator state.
      expect(kernelsLabel()).not.toBe(withNative);
    } finally {
      installAccelerator(backendReport().active);
    }
    expect(kernelsLabel()).toBe(withNative);
  });
});
