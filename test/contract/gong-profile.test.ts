import { gong } from '../../connectors/profiles/gong.js';
import { testTargetProfile } from './profile.contract.js';

// Gong takes work emails in the company's domains only (target.options.emailDomains).
testTargetProfile('gong', gong, { target: { profile: 'gong', emailDomains: ['example.com'] }, options: { emailDomains: ['example.com'] } });
