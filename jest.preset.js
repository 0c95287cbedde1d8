// Shared jest settings: tests import sibling packages from their sources, so no build is needed to test.
const path = require('path');

/** @param {string} dir the package directory (__dirname of its jest.config.js) */
module.exports = function preset(dir) {
  return {
    rootDir: dir,
    testEnvironment: 'node',
    transform: {
      '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(dir, 'tsconfig.spec.json'), diagnostics: { warnOnly: false } }],
    },
    moduleNameMapper: {
      '^@hiedit/([a-z-]+)$': path.join(__dirname, 'packages/$1/src/index.ts'),
    },
    testMatch: ['<rootDir>/src/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
    testTimeout: 120000,
  };
};
