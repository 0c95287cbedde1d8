#!/usr/bin/env node
// Nx runtime input of the bench-* targets: prints the sha256 of a data file, so a changed record file
// invalidates the cached benchmark result (the file lives outside the workspace, where Nx cannot hash it).
const fs = require('fs');
const { createHash } = require('crypto');
const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: hash-input.js FILE\n');
  process.exit(2);
}
if (!fs.existsSync(file)) {
  process.stdout.write(`missing:${file}`);
} else {
  process.stdout.write(createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
}
