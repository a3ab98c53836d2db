/** Moved: kept while the files that still import it from here are being moved too. */
export * from '../core/plan-groups.js';
export * from '../core/records.js';
export * from '../core/scope.js';
