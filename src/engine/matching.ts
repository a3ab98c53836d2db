/** Moved: kept while the files that still import it from here are being moved too. */
export * from '../core/matching.js';
