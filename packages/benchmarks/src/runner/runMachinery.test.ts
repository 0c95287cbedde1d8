import { checkRunMachinery, RUN_MACHINERY_EDITORS, runEditorSettings } from './runMachinery';

describe('--machinery: one edit-time option set for every policy editor of a run', () => {
  const editors = ['hiedit', 'rledit', 'ft', 'noop', 'oracle-k'];

  test('gives the value to every policy editor and to no other; without it the settings are untouched', () => {
    const editorSettings = { rledit: { trainer: { epochs: 2 } }, ft: { steps: 3 } };
    expect(runEditorSettings({ machinery: 'none', editorSettings }, 'rledit')).toEqual({ trainer: { epochs: 2 }, machinery: 'none' });
    expect(runEditorSettings({ machinery: 'none', editorSettings }, 'hiedit')).toEqual({ machinery: 'none' });
    for (const name of RUN_MACHINERY_EDITORS) expect(runEditorSettings({ machinery: 'hiedit' }, name)).toEqual({ machinery: 'hiedit' });
    for (const name of ['ft', 'noop', 'oracle-k']) {
      expect(runEditorSettings({ machinery: 'hiedit', editorSettings }, name)).toEqual(editorSettings[name as 'ft'] ?? {});
    }
    expect(runEditorSettings({ editorSettings }, 'rledit')).toBe(editorSettings.rledit);
    expect(runEditorSettings({}, 'hiedit')).toEqual({});
  });

  test('refuses per-editor settings that contradict it, naming both; the same value is accepted', () => {
    expect(() => checkRunMachinery({ editors, machinery: 'none', editorSettings: { rledit: { machinery: 'hiedit' } } }))
      .toThrow('run: --machinery none contradicts --editor-settings "rledit": {"machinery": "hiedit"}; give one of them');
    expect(() => checkRunMachinery({ editors, machinery: 'hiedit', editorSettings: { hiedit: { trainer: { calibration: null } } } }))
      .toThrow(/--machinery hiedit sets the edit-time options .* --editor-settings "hiedit" sets trainer\.calibration \(null\)/);
    expect(() => checkRunMachinery({ editors, machinery: 'none', editorSettings: { rledit: { policy: { low: { factorSpace: 'module' } } } } }))
      .toThrow(/--editor-settings "rledit" sets policy\.low\.factorSpace \("module"\)/);
    expect(() => checkRunMachinery({ editors, machinery: 'none', editorSettings: { rledit: { policy: { low: { keyPreconditioner: { lambda: 1 } } } } } }))
      .toThrow(/policy\.low\.keyPreconditioner/);
    expect(() => checkRunMachinery({ editors, machinery: 'fancy' as 'none' })).toThrow('run: --machinery must be hiedit or none, got "fancy"');
    // the same value both ways, settings of editors the flag does not reach, editors not in the run, and no flag pass
    expect(() => checkRunMachinery({ editors, machinery: 'none', editorSettings: { rledit: { machinery: 'none' } } })).not.toThrow();
    expect(() => checkRunMachinery({ editors, machinery: 'none', editorSettings: { 'oracle-k': { machinery: 'hiedit' } } })).not.toThrow();
    expect(() => checkRunMachinery({ editors: ['hiedit'], machinery: 'none', editorSettings: { rledit: { machinery: 'hiedit' } } })).not.toThrow();
    expect(() => checkRunMachinery({ editors, editorSettings: { rledit: { machinery: 'hiedit' } } })).not.toThrow();
  });
});
