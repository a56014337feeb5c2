/** Parses `Key=Value;Key=Value` (values may contain `=`, as base64 keys do). Keys are case-sensitive, as in Azure. */
export function parseConnectionString(text: string): Map<string, string> | undefined {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return fields.size > 0 ? fields : undefined;
}
