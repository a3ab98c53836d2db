/** Types of eslint/layers.js, for the tests that read it. */
export interface LayerFiles {
  layer: string;
  files: string[];
}
export interface TypesOnlyEdge {
  layer: string;
  typesOnly: true;
}
export interface TemporaryException {
  file: string;
  imports: string;
  why: string;
}
export declare const LAYERS: LayerFiles[];
export declare const ALLOWED_IMPORTS: Record<string, Array<string | TypesOnlyEdge> | '*'>;
export declare const CORE_FORBIDDEN_MODULES: string[];
export declare const TEMPORARY_EXCEPTIONS: TemporaryException[];
