/** Types of eslint/cycles.js, for the tests that read it. */
import type { Linter } from 'eslint';

export declare const cyclesChecked: boolean;
export declare function cycleConfigs(): Linter.Config[];
