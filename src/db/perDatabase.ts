// One instance of something per open database, made on first use and gone with the database:
// the payload writer, the prepared-statement state. Everything in the process that uses that
// database shares it (the server's code and the admin socket's CLI commands alike).
import type { Db } from './index.ts';

export function perDatabase<T>(create: (db: Db) => T): (db: Db) => T {
  const instances = new WeakMap<Db, T>();
  return (db) => {
    let instance = instances.get(db);
    if (instance === undefined) {
      instance = create(db);
      instances.set(db, instance);
    }
    return instance;
  };
}
