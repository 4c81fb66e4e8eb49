// Human-readable output: one "key: value" block per record, records separated by a blank line.
export function formatHuman(data: unknown): string {
  if (Array.isArray(data)) return data.length ? data.map(formatRecord).join('\n\n') : '(none)';
  return formatRecord(data);
}

function formatRecord(record: unknown): string {
  if (record === null || typeof record !== 'object') return String(record);
  const entries = Object.entries(record as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== null);
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  return entries.map(([key, value]) => `${`${key}:`.padEnd(width + 1)} ${formatValue(value)}`).join('\n');
}

function formatValue(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
