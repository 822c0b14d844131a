// What an import found besides the services: items it left out (or could only approximate) and
// errors, each with the keepalived.conf line it is about. Collected rather than thrown, so one run
// names every problem of a file.
import { describe, type Statement } from './syntax.js';

export interface Finding {
  line: number;
  /** The keepalived item ("real_server 10.0.0.1 80", "delay_before_retry 3"). */
  item: string;
  /** Why it is not (or not exactly) in the output. */
  reason: string;
}

export class Findings {
  readonly skipped: Finding[] = [];
  readonly errors: Finding[] = [];
  /** Once each: a virtual_server group maps its block once per address, and says each thing once. */
  private readonly seen = new Set<string>();

  /** An item the output leaves out or can only approximate: the import still succeeds. */
  skip(statement: Statement, reason: string, item = describe(statement)): void {
    this.add(this.skipped, { line: statement.line, item, reason });
  }

  /** Input that is wrong (a bad address, a weight out of range): the import fails. */
  error(statement: Statement, reason: string, item = describe(statement)): void {
    this.add(this.errors, { line: statement.line, item, reason });
  }

  private add(list: Finding[], finding: Finding): void {
    const key = JSON.stringify([list === this.errors, finding.line, finding.item, finding.reason]);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    list.push(finding);
  }
}

/** The one value of `keyword VALUE`; an error (and undefined) when there is not exactly one. */
export function singleArg(statement: Statement, findings: Findings): string | undefined {
  if (statement.args.length === 1) return statement.args[0];
  findings.error(statement, `expected one value after ${statement.keyword}, got ${statement.args.length}`);
  return undefined;
}

/** A whole number in [min, max] from `keyword N`; an error naming the line otherwise. */
export function integerArg(statement: Statement, findings: Findings, min: number, max: number): number | undefined {
  const text = singleArg(statement, findings);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    findings.error(statement, `${statement.keyword}: expected a whole number ${min}..${max}, got "${text}"`);
    return undefined;
  }
  return Number(text);
}

/** keepalived's <TIMER>: seconds, fractions allowed (2.5), as milliseconds. */
export function timerArg(statement: Statement, findings: Findings): number | undefined {
  const text = singleArg(statement, findings);
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text)) {
    findings.error(statement, `${statement.keyword}: expected seconds (e.g. 3 or 2.5), got "${text}"`);
    return undefined;
  }
  return Math.round(Number(text) * 1000);
}
