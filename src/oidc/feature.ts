// The protocol's own housekeeping: expired artefacts (tokens, codes, sessions…) and signing keys
// whose retention has passed are deleted by the server's sweep.
import type { Feature } from '../feature.ts';
import { sweepExpired } from './adapter.ts';
import { sweepExpiredKeys } from './keys.ts';

export const protocolArtefactsFeature: Feature = {
  name: 'protocol artefacts',
  sweepers: [
    { name: 'artefacts', sweep: (database) => sweepExpired(database.db) },
    { name: 'keys', sweep: (database) => sweepExpiredKeys(database.db) },
  ],
};
