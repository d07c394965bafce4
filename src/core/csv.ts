// The CSV export contract (DESIGN §5): one row per latency record, columns in
// a fixed order, an empty field for a part that was not observed. Rows end in
// LF (not RFC 4180's CRLF) so that line tools work; fields are quoted per
// RFC 4180 only when needed. Pure: host/csv-writer.ts writes to streams.
import type { FrameColumns } from './frame';
import type { LatencyColumns } from './latency-ring';
import { ABSENT, DIRECTIONS, protocolName, type Direction, type RecordColumns } from './records';

export const CSV_HEADER = 'timestamp_ns,container,netns,direction,protocol,latency_ns,stack_ns,virt_ns,packet_id';

export interface LatencyRow {
  timestampNs: bigint; // wall clock, ns since the epoch
  container: string; // user label
  netns: number; // netns inode
  direction: 'egress' | 'ingress';
  protocol: string;
  latencyNs: number;
  stackNs: number | null; // null = part not observed
  virtNs: number | null;
  packetId: number; // ICMP sequence, TCP sequence or key hash
}

const COLUMNS = CSV_HEADER.split(',');

function quote(field: string): string {
  return /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

/** One CSV record without the line terminator. */
export function formatCsvRow(row: LatencyRow): string {
  return [
    row.timestampNs.toString(),
    quote(row.container),
    String(row.netns),
    row.direction,
    quote(row.protocol),
    String(row.latencyNs),
    row.stackNs === null ? '' : String(row.stackNs),
    row.virtNs === null ? '' : String(row.virtNs),
    String(row.packetId),
  ].join(',');
}

// Splits one RFC 4180 record (quoted fields may contain , " CR LF).
function splitRecord(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const close = line.indexOf('"', i);
        if (close < 0) throw new Error(`bad CSV row ${JSON.stringify(line)}: unterminated quoted field; quotes inside a field must be doubled ("")`);
        field += line.slice(i, close);
        i = close + 1;
        if (line[i] !== '"') break;
        field += '"';
        i++;
      }
      if (i < line.length && line[i] !== ',') {
        throw new Error(`bad CSV row ${JSON.stringify(line)}: text after a closing quote at offset ${i}; quote the whole field`);
      }
    } else {
      const comma = line.indexOf(',', i);
      field = line.slice(i, comma < 0 ? line.length : comma);
      i = comma < 0 ? line.length : comma;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // skip the comma
  }
}

/** Parses one record produced by formatCsvRow (a trailing CR/LF is ignored). */
export function parseCsvRow(line: string): LatencyRow {
  const text = line.replace(/\r?\n$/, '');
  const f = splitRecord(text);
  const bad = (col: number, want: string): never => {
    throw new Error(`bad CSV row ${JSON.stringify(text)}: ${COLUMNS[col]} is ${JSON.stringify(f[col])}, expected ${want}`);
  };
  if (f.length !== COLUMNS.length) {
    throw new Error(`bad CSV row ${JSON.stringify(text)}: ${f.length} fields, expected ${COLUMNS.length} (${CSV_HEADER})`);
  }
  const int = (col: number): number => (/^\d+$/.test(f[col]) && Number.isSafeInteger(Number(f[col])) ? Number(f[col]) : bad(col, 'a non-negative integer'));
  const num = (col: number): number => (f[col] !== '' && Number.isFinite(Number(f[col])) ? Number(f[col]) : bad(col, 'a number'));
  const part = (col: number): number | null => (f[col] === '' ? null : num(col));
  const direction = f[3];
  if (direction !== 'egress' && direction !== 'ingress') bad(3, 'egress or ingress');
  return {
    timestampNs: /^\d+$/.test(f[0]) ? BigInt(f[0]) : bad(0, 'a non-negative integer'),
    container: f[1],
    netns: int(2),
    direction: direction as LatencyRow['direction'],
    protocol: f[4],
    latencyNs: num(5),
    stackNs: part(6),
    virtNs: part(7),
    packetId: int(8),
  };
}

/** Wall-clock ns of a store time t (ns since baseNs). */
export function wallNs(baseNs: bigint, t: number): bigint {
  return baseNs + BigInt(Math.round(t));
}

const part = (x: number): number | null => (x === x ? x : null); // NaN: not observed
const framePart = (x: number): number | null => (x === ABSENT ? null : x);

/** Rows of a decoded tracer batch; t from RecordStore.ingest. */
export function rowsFromBatch(cols: RecordColumns, t: Float64Array, baseNs: bigint, label: (index: number) => string | undefined): LatencyRow[] {
  const rows: LatencyRow[] = [];
  for (let i = 0; i < cols.length; i++) {
    const container = label(cols.container[i]);
    if (container === undefined) continue; // untraced while in flight: not a container's record any more
    rows.push({
      timestampNs: wallNs(baseNs, t[i]),
      container,
      netns: cols.netns[i],
      direction: DIRECTIONS[cols.dir[i]],
      protocol: protocolName(cols.proto[i]),
      latencyNs: cols.totalNs[i],
      stackNs: part(cols.stackNs[i]),
      virtNs: part(cols.virtNs[i]),
      packetId: cols.packetId[i],
    });
  }
  return rows;
}

/** Rows of one container and direction from its ring. */
export function rowsFromRing(cols: LatencyColumns, baseNs: bigint, container: { label: string; netns: number }, direction: Direction): LatencyRow[] {
  return Array.from(cols.t, (t, i) => ({
    timestampNs: wallNs(baseNs, t),
    container: container.label,
    netns: container.netns,
    direction,
    protocol: protocolName(cols.proto[i]),
    latencyNs: cols.total[i],
    stackNs: part(cols.stack[i]),
    virtNs: part(cols.virt[i]),
    packetId: cols.packetId[i],
  }));
}

/** Rows of a WebSocket record frame; label maps a netns inode to its container label. */
export function rowsFromFrame(f: FrameColumns, label: (netns: number) => string): LatencyRow[] {
  return Array.from(f.t, (t, i) => ({
    timestampNs: wallNs(f.baseNs, t),
    container: label(f.netns[i]),
    netns: f.netns[i],
    direction: DIRECTIONS[f.dir[i]],
    protocol: protocolName(f.proto[i]),
    latencyNs: f.total[i],
    stackNs: framePart(f.stack[i]),
    virtNs: framePart(f.virt[i]),
    packetId: f.packetId[i],
  }));
}

/** Rows as CSV text, one LF-terminated line each. */
export function csvLines(rows: readonly LatencyRow[]): string {
  let out = '';
  for (const r of rows) out += formatCsvRow(r) + '\n';
  return out;
}
