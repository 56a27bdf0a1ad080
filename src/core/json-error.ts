/**
 * A JSON syntax error in plain words, with its line and column: what a person fixing a request body or
 * a rule needs, rather than V8's "Expected double-quoted property name in JSON at position 133" (or,
 * for some errors, no position at all). Called only once JSON.parse has failed: the text is scanned
 * again by a small recursive-descent checker that stops at the first fault and says what it expected.
 */
export function describeJsonError(text: string): string {
  if (text.trim() === '') return 'the body is empty: send a JSON object';
  const fault = firstFault(text);
  if (fault === undefined) return 'not valid JSON';
  const before = text.slice(0, fault.at);
  const where = `line ${before.split('\n').length}, column ${fault.at - before.lastIndexOf('\n')}`;
  const found = text[fault.at];
  if (found === undefined) return `not valid JSON: it ends at ${where} where ${fault.expected} was expected`;
  if (fault.trailingComma) return `not valid JSON: a trailing comma before "${found}" at ${where}; remove it`;
  if (found === "'") return `not valid JSON: a single quote at ${where}; JSON strings take double quotes`;
  return `not valid JSON: ${JSON.stringify(found)} at ${where} where ${fault.expected} was expected`;
}

interface Fault {
  readonly at: number;
  readonly expected: string;
  readonly trailingComma?: boolean;
}

// Sticky (y) patterns match at lastIndex: no slice of the text per token, so a body of a megabyte with
// a fault at its end is checked in linear time. A raw control character is not allowed in a JSON string.
const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
// eslint-disable-next-line no-control-regex -- the JSON grammar excludes U+0000..U+001F inside strings
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

const MAX_DEPTH = 512;

/** The length of the token a sticky pattern matches at `at` (undefined: none). */
function matchAt(pattern: RegExp, text: string, at: number): number | undefined {
  pattern.lastIndex = at;
  const m = pattern.exec(text);
  return m === null ? undefined : m[0].length;
}

/** Where a JSON text first goes wrong, and what was expected there (undefined: it is valid). */
function firstFault(text: string): Fault | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const fail = (expected: string, trailingComma = false): Fault => ({ at: i, expected, trailingComma });
  const value = (): Fault | undefined => {
    ws();
    const c = text[i];
    if (c === '{') return container('}', true);
    if (c === '[') return container(']', false);
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null'])
      if (text.startsWith(word, i)) {
        i += word.length;
        return undefined;
      }
    const n = matchAt(NUMBER, text, i);
    if (n === undefined) return fail('a value');
    i += n;
    return undefined;
  };
  const string = (): Fault | undefined => {
    const m = matchAt(STRING, text, i);
    if (m === undefined) return fail('a string in double quotes');
    i += m;
    return undefined;
  };
  let depth = 0;
  const container = (close: string, object: boolean): Fault | undefined => {
    // The checker recurses per bracket: a hostile "[[[[…" a megabyte deep must not overflow the stack.
    if (++depth > MAX_DEPTH) return fail(`at most ${MAX_DEPTH} nested brackets`);
    const fault = members(close, object);
    depth--;
    return fault;
  };
  const members = (close: string, object: boolean): Fault | undefined => {
    i++; // the opening bracket
    ws();
    if (text[i] === close) {
      i++;
      return undefined;
    }
    for (let first = true; ; first = false) {
      ws();
      if (!first && text[i] === close) return fail(object ? 'a property name' : 'a value', true);
      if (object) {
        if (text[i] !== '"') return fail('a property name in double quotes');
        const key = string();
        if (key !== undefined) return key;
        ws();
        if (text[i] !== ':') return fail('":"');
        i++;
      }
      const v = value();
      if (v !== undefined) return v;
      ws();
      if (text[i] === close) {
        i++;
        return undefined;
      }
      if (text[i] !== ',') return fail(`"," or "${close}"`);
      i++;
    }
  };
  const v = value();
  if (v !== undefined) return v;
  ws();
  return i < text.length ? fail('the end of the text') : undefined;
}
