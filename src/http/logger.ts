// One JSON line per event, carrying the request id of the request that caused it. Fields whose
// names suggest a secret are masked here, as a last line of defence behind not logging them.
import { AsyncLocalStorage } from 'node:async_hooks';
import winston from 'winston';

export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

const SECRET_FIELD = /pass(word)?|secret|token|code|cookie|authorization|assertion|jwk|key$/i;

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (SECRET_FIELD.test(key) && key !== 'requestId' && key !== 'status' && key !== 'statusCode') info[key] = '[redacted]';
  }
  const requestId = requestContext.getStore()?.requestId;
  if (requestId && !info.requestId) info.requestId = requestId;
  return info;
});

export const logger = winston.createLogger({
  level: process.env.LOG_LEVEL || 'info',
  format: winston.format.combine(redact(), winston.format.timestamp(), winston.format.json()),
  transports: [new winston.transports.Console()],
});

export function setLogLevel(level: string): void {
  logger.level = level;
}

/** For the CLI: its standard output is its answer, so log lines go to standard error. */
export function logToStderr(): void {
  logger.clear();
  logger.add(new winston.transports.Console({ stderrLevels: Object.keys(winston.config.npm.levels) }));
}
