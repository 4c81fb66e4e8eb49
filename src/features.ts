// Every feature of the server, in the order their routes are tried. Adding a feature is one line
// here and one module; app.ts and server.ts compose this list and know no feature by name.
import type { Feature } from './feature.ts';
import { homeFeature, staticFeature } from './http/pages.ts';
import { healthFeature } from './http/health.ts';
import { protocolArtefactsFeature } from './oidc/feature.ts';
import { interactionsFeature } from './interactions/index.ts';
import { accountLinksFeature } from './accountLinks/index.ts';
import { accountAreaFeature } from './account/index.ts';
import { adminApiFeature } from './admin/index.ts';
import { mailFeature } from './mail/index.ts';
import { federationFeature } from './federation/index.ts';

export const FEATURES: readonly Feature[] = [
  staticFeature,
  healthFeature,
  homeFeature,
  protocolArtefactsFeature,
  interactionsFeature,
  federationFeature,
  accountLinksFeature,
  adminApiFeature,
  mailFeature,
  accountAreaFeature,
];
