// keepalived.conf's syntax, as keepalived.conf(5) describes it: lines of a keyword and its
// arguments, blocks between '{' and '}', comments from '#' or '!' to the end of the line, and
// quoted strings ("…" or '…') whose quotes are dropped and whose spaces stay inside the word.
// Written from the manual, not from keepalived's parser. The result is a tree of statements, each
// with the line it started on, so every later message can name its line. Bad input (an unclosed
// quote or block, a '}' too many, nesting deeper than any real file) is a KeepalivedSyntaxError
// naming the line; nothing here throws anything else.

/** One `keyword arg…` line, with the block that follows it when it has one. */
export interface Statement {
  keyword: string;
  args: string[];
  /** 1-based line of the keyword. */
  line: number;
  /** The statements between '{' and '}', when the keyword opens a block. */
  block?: Statement[];
}

export class KeepalivedSyntaxError extends Error {
  override readonly name = 'KeepalivedSyntaxError';
  constructor(readonly line: number, readonly detail: string) {
    super(`line ${line}: ${detail}`);
  }
}

/** Far deeper than keepalived's own grammar goes (virtual_server › real_server › HTTP_GET › url is 4). */
const MAX_DEPTH = 16;
/** A keepalived.conf is kilobytes; this bounds what a mistaken argument (a binary, /dev/zero) costs. */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

interface Token {
  text: string;
  /** A brace only counts when it was not inside quotes. */
  brace?: '{' | '}';
}

/** Backslash escapes inside quotes, as the manual lists the common ones; any other \C is C. */
const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', E: '\x1b' };

/** The words of one line; a comment ends it. */
function lineTokens(text: string, line: number): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') { i++; continue; }
    if (c === '#' || c === '!') break;
    if (c === '{' || c === '}') { tokens.push({ text: c, brace: c }); i++; continue; }
    // A word: unquoted characters and quoted runs, glued together until whitespace or a brace.
    let word = '';
    while (i < text.length) {
      const d = text[i]!;
      if (d === ' ' || d === '\t' || d === '\r' || d === '{' || d === '}') break;
      if (d === '"' || d === "'") {
        const close = readQuoted(text, i, line);
        word += close.text;
        i = close.end;
        continue;
      }
      word += d;
      i++;
    }
    tokens.push({ text: word });
  }
  return tokens;
}

/** The quoted run starting at `start` (a quote character): its text and the index after the closing quote. */
function readQuoted(text: string, start: number, line: number): { text: string; end: number } {
  const quote = text[start]!;
  let out = '';
  let i = start + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === quote) return { text: out, end: i + 1 };
    if (c === '\\' && i + 1 < text.length) {
      const next = text[i + 1]!;
      out += ESCAPES[next] ?? next;
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
  throw new KeepalivedSyntaxError(line, `the string opened by ${quote} at column ${start + 1} is not closed on this line`);
}

/**
 * The statement tree of a keepalived.conf text. A '{' opens a block for the statement before it
 * (on the same line, or the line above when the brace stands alone); '}' closes the innermost.
 */
export function parseKeepalived(text: string): Statement[] {
  const root: Statement[] = [];
  // The open blocks, innermost last, each with the statement that owns it.
  const open: { owner: Statement | undefined; body: Statement[] }[] = [{ owner: undefined, body: root }];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1;
    let current: Statement | undefined;
    for (const token of lineTokens(lines[index]!, line)) {
      const body = open[open.length - 1]!.body;
      if (token.brace === '{') {
        const owner = current ?? lastWithoutBlock(body);
        if (!owner) throw new KeepalivedSyntaxError(line, "'{' without a keyword before it");
        if (open.length > MAX_DEPTH) throw new KeepalivedSyntaxError(line, `blocks nested deeper than ${MAX_DEPTH} levels`);
        owner.block = [];
        open.push({ owner, body: owner.block });
        current = undefined;
      } else if (token.brace === '}') {
        if (open.length === 1) throw new KeepalivedSyntaxError(line, "'}' without a block to close");
        open.pop();
        current = undefined;
      } else if (current) {
        current.args.push(token.text);
      } else {
        current = { keyword: token.text, args: [], line };
        body.push(current);
      }
    }
  }
  if (open.length > 1) {
    const owner = open[open.length - 1]!.owner!;
    throw new KeepalivedSyntaxError(owner.line, `the block of "${describe(owner)}" is never closed (a '}' is missing)`);
  }
  return root;
}

/** The last statement of a body, when it has no block yet (a '{' alone on the next line opens it). */
function lastWithoutBlock(body: Statement[]): Statement | undefined {
  const last = body[body.length - 1];
  return last && !last.block ? last : undefined;
}

/** "keyword arg arg" for messages. */
export function describe(statement: Statement): string {
  return [statement.keyword, ...statement.args].join(' ');
}
