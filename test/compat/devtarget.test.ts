import { describe } from 'vitest';
import { compatScenarios, useCompatServer, type CompatTarget } from './scenarios.js';
import { startDevtargetServer } from './servers/devtarget.js';

const TOKEN = 'compat-devtarget-token';

const devtarget: CompatTarget = {
  name: 'scimsync devtarget (scimmy 1.3, strict)',
  start: startDevtargetServer,
};

describe('compatibility: scimsync devtarget', () => {
  compatScenarios(devtarget, useCompatServer(devtarget, TOKEN));
});
