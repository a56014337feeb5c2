/** Removes anything that looks like a key or token from text that may reach logs or callers. */
export function redactSecrets(text: string): string {
  return text
    .replace(/SharedAccessSignature\s+[^\s"',]+/gi, 'SharedAccessSignature <redacted>')
    .replace(/(SharedAccessKey|AccountKey|sig)=[^;&\s"']+/gi, '$1=<redacted>')
    .replace(/Bearer\s+[A-Za-z0-9\-._~+/]+=*/g, 'Bearer <redacted>');
}
