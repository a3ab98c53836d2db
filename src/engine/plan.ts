/** Moved: kept while the files that still import it from here are being moved too. */
export * from '../core/plan-users.js';
export * from '../core/records.js';
export * from '../core/operations.js';
