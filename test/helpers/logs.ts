/** h2ws's JSON log lines (stderr when it is not a terminal), parsed. Lines that are not JSON are skipped. */
export type LogRecord = Record<string, unknown> & { time: string; level: string; event: string };

export function logRecords(output: string): LogRecord[] {
  const records: LogRecord[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      records.push(JSON.parse(line) as LogRecord);
    } catch {
      // a partial line still being written
    }
  }
  return records;
}

/** The "tunnel" records (one per tunnel: at its end, or at a failed handshake) matching every given field. */
export function tunnelRecords(output: string, match: Record<string, unknown> = {}): LogRecord[] {
  return logRecords(output).filter((r) => r.event === 'tunnel' && Object.entries(match).every(([k, v]) => (v instanceof RegExp ? v.test(String(r[k])) : r[k] === v)));
}
