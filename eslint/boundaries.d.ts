/** Types of eslint/boundaries.js, for the tests that read it. */
import type { Linter } from 'eslint';
import type { TemporaryException } from './layers.js';

export interface LayeringOptions {
  exceptions: readonly TemporaryException[];
}
export declare function dependencyRuleOptions(options: LayeringOptions): Record<string, unknown>;
export declare function layeringConfigs(options: LayeringOptions): Linter.Config[];
