import { acceleratorStatus, attentionKernelsActive, backendReport, fusedKernelsActive, initBackend, installAccelerator, KERNELS_REVISION, uninstallAccelerator } from '@hiedit/tensor-core';
import { kernelsLabel } from './build';

describe('pretrain cache key: kernel configuration', () => {
  beforeAll(async () => {
    await initBackend();
  });

  it('names the active backend, the matmul kernels, the fused and attention kernels and the kernels revision', () => {
    const a = acceleratorStatus();
    const label = kernelsLabel();
    expect(label.startsWith(`${backendReport().active}+${a.active ? 'native-blas' : 'stock'}`)).toBe(true);
    expect(label.endsWith(`+r${KERNELS_REVISION}`)).toBe(true);
    // the fused and attention kernels come with the native accelerator
    expect(label.includes('+fused+')).toBe(a.active && fusedKernelsActive());
    expect(label.includes('+attn+')).toBe(a.active && attentionKernelsActive());
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
