// PostgreSQL text and jsonb cannot hold the NUL character: a value carrying one makes the query
// fail. Input that reaches the database is checked with this first and refused as bad input.
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => k.includes('\u0000') || containsNul(v));
  return false;
}
