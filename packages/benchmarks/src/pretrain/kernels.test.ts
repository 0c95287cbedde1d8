import { acceleratorStatus, backendReport, fusedKernelsActive, initBackend, installAccelerator, uninstallAccelerator } from '@hiedit/tensor-core';
import { kernelsLabel } from './build';

describe('pretrain cache key: kernel configuration', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('names the active backend, the matmul kernels and whether the fused kernels run', () => {
    const a = acceleratorStatus();
    expect(kernelsLabel()).toBe(`${backendReport().active}+${a.active ? a.name : 'stock'}${fusedKernelsActive() ? '+fused' : ''}`);
    // the fused kernels come with the native accelerator
    expect(kernelsLabel().endsWith('+fused')).toBe(a.active);
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
