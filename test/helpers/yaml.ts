/**
 * A reader for the YAML that deploy/kubernetes/ is written in: block mappings and sequences,
 * `---` between documents, `#` comments, plain and quoted scalars, flow sequences of scalars,
 * and `|` block scalars. Anything outside that subset throws, so a manifest that drifts out of
 * it fails its test instead of being misread.
 */
interface Line {
  readonly indent: number;
  readonly text: string;
  readonly number: number;
}

/** Parses every document in `source`. */
export function parseYamlDocuments(source: string): unknown[] {
  const documents: string[][] = [[]];
  for (const raw of source.split('\n')) {
    if (/^---\s*$/.test(raw)) documents.push([]);
    else documents.at(-1)!.push(raw);
  }
  return documents.map((doc) => new Reader(doc).document()).filter((d) => d !== undefined);
}

class Reader {
  readonly #raw: string[];
  readonly #lines: Line[] = [];
  #i = 0;

  constructor(raw: string[]) {
    this.#raw = raw;
    raw.forEach((text, number) => {
      if (text.trim() === '' || text.trim().startsWith('#')) return;
      if (text.includes('\t')) throw new Error(`line ${number + 1}: tabs are not YAML indentation`);
      this.#lines.push({ indent: text.length - text.trimStart().length, text: text.trim(), number });
    });
  }

  document(): unknown {
    if (this.#lines.length === 0) return undefined;
    const value = this.#block(this.#lines[0]!.indent);
    if (this.#i < this.#lines.length) throw new Error(`line ${this.#lines[this.#i]!.number + 1}: unexpected indentation`);
    return value;
  }

  #block(indent: number): unknown {
    const line = this.#lines[this.#i]!;
    return line.text === '-' || line.text.startsWith('- ') ? this.#sequence(indent) : this.#mapping(indent);
  }

  #mapping(indent: number, first?: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    let pending = first;
    for (;;) {
      let text: string;
      let number: number;
      if (pending !== undefined) {
        text = pending;
        number = this.#lines[this.#i - 1]!.number;
        pending = undefined;
      } else {
        const line = this.#lines[this.#i];
        if (line === undefined || line.indent !== indent || line.text.startsWith('- ')) break;
        text = line.text;
        number = line.number;
        this.#i++;
      }
      const m = /^("[^"]*"|'[^']*'|[^\s:][^:]*?):(?:\s+(.*))?$/.exec(text);
      if (m === null) throw new Error(`line ${number + 1}: expected "key: value", got ${JSON.stringify(text)}`);
      const key = String(scalar(m[1]!));
      if (key in out) throw new Error(`line ${number + 1}: duplicate key ${key}`);
      const rest = stripComment(m[2] ?? '');
      if (rest === '|' || rest === '|-') {
        out[key] = this.#blockScalar(number, indent, rest === '|');
      } else if (rest !== '') {
        out[key] = scalar(rest);
      } else {
        const next = this.#lines[this.#i];
        if (next !== undefined && (next.indent > indent || (next.indent === indent && next.text.startsWith('- ')))) out[key] = this.#block(next.indent);
        else out[key] = null;
      }
    }
    return out;
  }

  #sequence(indent: number): unknown[] {
    const out: unknown[] = [];
    for (;;) {
      const line = this.#lines[this.#i];
      if (line === undefined || line.indent !== indent || !(line.text === '-' || line.text.startsWith('- '))) break;
      this.#i++;
      const item = line.text.slice(1).trim();
      if (item === '') out.push(this.#block(this.#lines[this.#i]!.indent));
      else if (/^("[^"]*"|'[^']*'|[^\s:"'[{][^:]*?):(\s|$)/.test(item)) out.push(this.#mapping(indent + 2, item));
      else out.push(scalar(stripComment(item)));
    }
    return out;
  }

  /** The lines after `number` indented past `indent`, with their common indentation removed. */
  #blockScalar(number: number, indent: number, keepNewline: boolean): string {
    const body: string[] = [];
    let j = number + 1;
    for (; j < this.#raw.length; j++) {
      const raw = this.#raw[j]!;
      if (raw.trim() !== '' && raw.length - raw.trimStart().length <= indent) break;
      body.push(raw);
    }
    while (body.length > 0 && body.at(-1)!.trim() === '') body.pop();
    while (this.#i < this.#lines.length && this.#lines[this.#i]!.number < number + 1 + body.length) this.#i++;
    const strip = Math.min(...body.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length));
    return body.map((l) => l.slice(strip)).join('\n') + (keepNewline ? '\n' : '');
  }
}

/** Drops a trailing ` # comment` outside quotes. */
function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || text[i - 1] === ' ')) {
      return text.slice(0, i).trimEnd();
    }
  }
  return text;
}

function scalar(text: string): unknown {
  if (text.startsWith('"')) return JSON.parse(text);
  if (text.startsWith("'")) {
    if (!text.endsWith("'")) throw new Error(`unterminated string ${text}`);
    return text.slice(1, -1).replace(/''/g, "'");
  }
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw new Error(`unterminated flow sequence ${text}`);
    const inner = text.slice(1, -1).trim();
    return inner === '' ? [] : (inner.match(/"(?:[^"\\]|\\.)*"|'[^']*'|[^,]+/g) ?? []).map((s) => scalar(s.trim())).filter((s) => s !== '');
  }
  if (text.startsWith('{')) {
    if (text !== '{}') throw new Error(`flow mappings are outside the subset: ${text}`);
    return {};
  }
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null' || text === '~') return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}
