import { generic } from '../../connectors/profiles/generic.js';
import { testTargetProfile } from './profile.contract.js';

// Any SCIM 2.0 service: the local target as it is, without a vendor's extra rules.
testTargetProfile('generic', generic, { target: {} });
