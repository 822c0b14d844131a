// The EAL lcore list of `dataplane.lcores`, read just far enough to count lcores:
// "-l" style ("0-3", "0,2,4") and "--lcores" style, which maps lcores to CPUs
// ("0@0,(1-3)@1": lcore 0 on CPU 0, lcores 1-3 all on CPU 1 — several workers
// sharing one CPU). The first lcore is the main one (the Node thread, never polls).

/** Distinct lcore ids in an EAL lcore list, or undefined when it is not one. */
export function lcoreIds(value: string): number[] | undefined {
  const ids = new Set<number>();
  for (const element of splitTopLevel(value)) {
    if (element === undefined) return undefined;
    const at = element.indexOf('@');
    const lcores = at < 0 ? element : element.slice(0, at);
    if (at >= 0 && parseSet(element.slice(at + 1)) === undefined) return undefined;
    const set = parseSet(lcores);
    if (set === undefined) return undefined;
    for (const id of set) ids.add(id);
  }
  return ids.size ? [...ids] : undefined;
}

/** Splits at commas outside parentheses; undefined for unbalanced parentheses. */
function splitTopLevel(value: string): (string | undefined)[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of value) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0 || depth > 1) return [undefined];
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (depth !== 0) return [undefined];
  parts.push(current);
  return parts;
}

const MAX_LCORE = 1023;

/** "3", "1-3" or "(1-3,5)" → ids; undefined otherwise. */
function parseSet(text: string): number[] | undefined {
  const inner = text.startsWith('(') && text.endsWith(')') ? text.slice(1, -1) : text;
  if (inner.includes('(') || inner.includes(')') || inner === '') return undefined;
  const ids: number[] = [];
  for (const item of inner.split(',')) {
    const match = /^([0-9]+)(?:-([0-9]+))?$/.exec(item);
    if (!match) return undefined;
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first || last > MAX_LCORE) return undefined;
    for (let id = first; id <= last; id++) ids.push(id);
  }
  return ids;
}
