'use strict';
// An import resolver for eslint-plugin-boundaries: scimsync's sources import `./x.js`
// while the file on disk is `./x.ts` (NodeNext), which the node resolver cannot see.
const fs = require('node:fs');
const path = require('node:path');
const { builtinModules } = require('node:module');

const TS_FOR_JS = { '.js': '.ts', '.mjs': '.mts', '.cjs': '.cts' };

function isFile(candidate) {
  try {
    return fs.statSync(candidate).isFile();
  } catch {
    return false;
  }
}

function resolveRelative(source, fromFile) {
  const base = path.resolve(path.dirname(fromFile), source);
  const ext = path.extname(base);
  const asTs = TS_FOR_JS[ext] ? base.slice(0, -ext.length) + TS_FOR_JS[ext] : undefined;
  const candidates = [asTs, base, `${base}.ts`, path.join(base, 'index.ts')].filter(Boolean);
  const found = candidates.find(isFile);
  // A file being moved or split may not exist yet: classify it by where it points, tsc reports it missing.
  return found ?? asTs ?? base;
}

module.exports = {
  interfaceVersion: 2,
  resolve(source, fromFile) {
    if (source.startsWith('node:') || builtinModules.includes(source)) return { found: true, path: null };
    if (source.startsWith('.') || path.isAbsolute(source)) return { found: true, path: resolveRelative(source, fromFile) };
    // Packages: leave them to the node resolver that eslint-module-utils tries next.
    return { found: false };
  },
};
