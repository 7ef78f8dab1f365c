// Minimal line logger: ISO time, level, thread, message — to stderr.
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

function threshold(): number {
  const v = (process.env.ZOOID_LOG_LEVEL ?? 'info').toLowerCase();
  return v in LEVELS ? LEVELS[v as Level] : LEVELS.info;
}

export function createLogger(thread: string): Logger {
  const min = threshold();
  const line = (level: Level, msg: string) => {
    if (LEVELS[level] < min) return;
    process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} [${thread}] ${msg}\n`);
  };
  return {
    debug: (m) => line('debug', m),
    info: (m) => line('info', m),
    warn: (m) => line('warn', m),
    error: (m) => line('error', m),
  };
}
