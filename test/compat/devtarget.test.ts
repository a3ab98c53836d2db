import { describe } from 'vitest';
import { compatScenarios, useCompatServer, type CompatTarget } from './scenarios.js';
import { startDevtargetServer } from './servers/devtarget.js';

const TOKEN = 'compat-devtarget-token';

const devtarget: CompatTarget = {
  name: 'scimsync devtarget (scimmy 1.3, strict)',
  start: startDevtargetServer,
  scimsyncDefects: {
    'first value of a typed attribute':
      'it sends replace phoneNumbers[type eq "work"].value to an account with no work phone, which RFC 7644 §3.5.2.3 answers 400 noTarget (scimmy does); a first value must be an add',
  },
};

describe('compatibility: scimsync devtarget', () => {
  compatScenarios(devtarget, useCompatServer(devtarget, TOKEN));
});
