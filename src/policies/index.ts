// Terms and consents: the documents people accept (terms of service, privacy policy, each
// versioned in the policies file, schema.ts) and the record of who accepted which version
// (acceptances.ts); the purposes people may consent to and the append-only consent ledger
// (consents.ts); and the terms screen's answer, recorded as one (signInAnswer.ts). The policies
// in force come from config.declarations: read them at each request, they change on reload.
export * from './schema.ts';
export * from './acceptances.ts';
export * from './consents.ts';
export * from './signInAnswer.ts';
