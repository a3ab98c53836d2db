import { strongdm } from '../../connectors/profiles/strongdm.js';
import { testTargetProfile } from './profile.contract.js';

// strongDM: strict names and email, `active` required, a duplicate email refused; served at the profile's basePath.
testTargetProfile('strongdm', strongdm, { target: { profile: 'strongdm' } });
