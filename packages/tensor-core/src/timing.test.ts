import { median, medianMs } from './timing';

test('median of odd and even counts, unsorted input left as it was', () => {
  const xs = [5, 1, 3];
  expect(median(xs)).toBe(3);
  expect(xs).toEqual([5, 1, 3]);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(() => median([])).toThrow(/empty list/);
});

test('medianMs runs a warm-up plus n timed runs and returns a non-negative time', () => {
  let calls = 0;
  const ms = medianMs(3, () => {
    calls++;
  });
  expect(calls).toBe(4);
  expect(ms).toBeGreaterThanOrEqual(0);
  expect(() => medianMs(0, () => undefined)).toThrow(/whole number >= 1, got 0/);
});
