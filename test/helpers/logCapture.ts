// Reads what the server logs: every JSON line winston writes while the capture is on. With a
// level, the other transports are silenced meanwhile (the lines are read, not printed).
import { Writable } from 'node:stream';
import winston from 'winston';
import { logger, setLogLevel } from '../../src/http/logger.ts';

export interface LogCapture {
  lines: string[];
  stop(): void;
}

export function captureLog(options: { level?: string } = {}): LogCapture {
  const lines: string[] = [];
  const capture = new winston.transports.Stream({
    stream: new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  });
  const others = [...logger.transports];
  if (options.level) {
    for (const transport of others) transport.silent = true;
    setLogLevel(options.level);
  }
  logger.add(capture);
  return {
    lines,
    stop() {
      logger.remove(capture);
      if (!options.level) return;
      for (const transport of others) transport.silent = false;
      setLogLevel(process.env.TEST_LOG_LEVEL ?? 'error');
    },
  };
}
