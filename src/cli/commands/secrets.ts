// `gatehouse secrets …`: moving what is sealed at rest from SECRET_KEY_PREVIOUS (and the old
// sealed format) to the current SECRET_KEY. Inside the running server (admin socket) these run
// with the server's keys, which are the ones that matter.
import type { Command } from '../command.ts';
import { CommandError } from '../context.ts';
import { inspectSecrets } from '../../secrets/inventory.ts';
import { rotateSecrets, SecretsRotationError } from '../../secrets/rotation.ts';

export const SECRETS_COMMANDS: Command[] = [
  {
    name: 'secrets rotate',
    summary:
      'Re-seal every encrypted secret (signing and cookie keys, client secrets) with the current SECRET_KEY, all in one transaction; afterwards SECRET_KEY_PREVIOUS can be removed',
    usage: 'secrets rotate',
    async run(ctx) {
      try {
        return await rotateSecrets(ctx.service, ctx.box);
      } catch (error) {
        if (error instanceof SecretsRotationError) {
          throw new CommandError(
            error.message,
            error.unreadable.map((u) => u.message),
          );
        }
        throw error;
      }
    },
  },
  {
    name: 'secrets status',
    summary: 'Count the encrypted secrets by the key that sealed them, and say whether SECRET_KEY_PREVIOUS is still needed',
    usage: 'secrets status',
    async run(ctx) {
      const inventory = await inspectSecrets(ctx.database.db, ctx.box);
      const waiting = Object.values(inventory.tables).some((c) => c.previous || c.legacy);
      return {
        keyId: inventory.keyId,
        previousKeyIds: inventory.previousKeyIds,
        tables: inventory.tables,
        unreadable: inventory.unreadable.map((u) => u.message),
        rotateNeeded: waiting,
        previousKeyNeeded: Object.values(inventory.tables).some((c) => c.previous),
      };
    },
  },
];
