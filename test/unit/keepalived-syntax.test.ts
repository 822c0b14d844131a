// keepalived.conf's syntax (src/import/keepalived/syntax.ts): words, quotes, comments and blocks
// as keepalived.conf(5) describes them; malformed input is a KeepalivedSyntaxError naming its line,
// never another exception, and the importer above it never throws either.
import { test } from '../support/suite.js';
import * as assert from 'uvu/assert';
import { importKeepalived } from '../../src/import/keepalived/import.js';
import { KeepalivedSyntaxError, parseKeepalived, type Statement } from '../../src/import/keepalived/syntax.js';

/** The tree without line numbers, for compact expectations: [keyword, args, block?]. */
type Shape = [string, string[], Shape[]?];
function shape(statements: Statement[]): Shape[] {
  return statements.map((s) => (s.block ? [s.keyword, s.args, shape(s.block)] : [s.keyword, s.args]));
}

function syntaxError(text: string): KeepalivedSyntaxError {
  try {
    parseKeepalived(text);
  } catch (error) {
    assert.instance(error, KeepalivedSyntaxError, `expected a syntax error, got ${String(error)}`);
    return error as KeepalivedSyntaxError;
  }
  throw new Error(`no syntax error for ${JSON.stringify(text)}`);
}

test('statements, blocks and their lines; comments from # or ! at the start of a word', () => {
  const tree = parseKeepalived([
    '! Configuration File for keepalived',
    'virtual_server 10.0.0.1 80 {   # the VIP',
    '    lb_algo rr',
    '    real_server 10.0.1.1 80 {',
    '        weight 3 ! three times the others',
    '        TCP_CHECK { connect_timeout 3 }',
    '    }',
    '}',
  ].join('\n'));
  assert.equal(shape(tree), [['virtual_server', ['10.0.0.1', '80'], [
    ['lb_algo', ['rr']],
    ['real_server', ['10.0.1.1', '80'], [['weight', ['3']], ['TCP_CHECK', [], [['connect_timeout', ['3']]]]]],
  ]]]);
  assert.is(tree[0]!.line, 2);
  assert.is(tree[0]!.block![1]!.line, 4);
  assert.is(tree[0]!.block![1]!.block![1]!.line, 6);
});

test('a brace alone on the next line opens the block of the line above', () => {
  assert.equal(shape(parseKeepalived('virtual_server 10.0.0.1 80\n{\n  protocol UDP\n}\n')),
    [['virtual_server', ['10.0.0.1', '80'], [['protocol', ['UDP']]]]]);
});

test('quoted strings: quotes dropped, spaces kept, glued to the text around them; braces and comment marks inside are text', () => {
  const [statement] = parseKeepalived(`misc_path "/usr/local/bin/check web.sh" 'a b'c "x{#}!y" ab"cd ef"g`);
  assert.equal(statement!.args, ['/usr/local/bin/check web.sh', 'a bc', 'x{#}!y', 'abcd efg']);
  assert.equal(parseKeepalived(String.raw`name "tab\there \"q\" \\"`)[0]!.args, ['tab\there "q" \\']);
  assert.equal(parseKeepalived('path /a#b')[0]!.args, ['/a#b'], 'a # inside a word is part of it');
});

test('CRLF line ends and tabs read like LF and spaces', () => {
  assert.equal(shape(parseKeepalived('virtual_server\t10.0.0.1 80 {\r\n\tlb_algo wrr\r\n}\r\n')),
    [['virtual_server', ['10.0.0.1', '80'], [['lb_algo', ['wrr']]]]]);
});

test('malformed input: a KeepalivedSyntaxError naming the line', () => {
  const unclosedQuote = syntaxError('virtual_server 10.0.0.1 80 {\n  misc_path "/bin/check\n}\n');
  assert.is(unclosedQuote.line, 2);
  assert.match(unclosedQuote.message, /line 2: the string opened by " at column 13 is not closed on this line/);

  const unclosedBlock = syntaxError('global_defs {\n}\nvirtual_server 10.0.0.1 80 {\n  real_server 10.0.1.1 80 {\n    weight 1\n}\n');
  assert.is(unclosedBlock.line, 3, 'the outer block is the one left open');
  assert.match(unclosedBlock.message, /the block of "virtual_server 10.0.0.1 80" is never closed/);

  const extraClose = syntaxError('virtual_server 10.0.0.1 80 {\n}\n}\n');
  assert.is(extraClose.line, 3);
  assert.match(extraClose.message, /'}' without a block to close/);

  const noKeyword = syntaxError('{\n}\n');
  assert.is(noKeyword.line, 1);
  assert.match(noKeyword.message, /'\{' without a keyword/);

  const deep = syntaxError(`${'a {\n'.repeat(40)}${'}\n'.repeat(40)}`);
  assert.match(deep.message, /nested deeper than 16 levels/);
});

test('no input crashes the importer: random text from keepalived words, braces, quotes and bytes', () => {
  const pieces = ['virtual_server', 'real_server', 'group', 'fwmark', 'virtual_server_group', 'local_address_group', 'laddr_group_name',
    'TCP_CHECK', 'HTTP_GET', 'UDP_CHECK', 'DNS_CHECK', 'url', 'path', 'status_code', 'payload', 'require_reply', 'lb_kind', 'lb_algo',
    'DR', 'FNAT', 'NAT', 'TUN', 'type', 'gue', 'weight', 'delay_loop', 'persistence_granularity', 'persistence_timeout', 'protocol', 'UDP',
    'TCP', 'flag-1', 'sh-port', 'sh', 'mh', 'syn_proxy', 'proxy_protocol', 'v2', 'establish_timeout', 'include', '@cond', '$X=1',
    '10.0.0.1', '10.0.0.1-300', '10.0.0.0/8', '2001:db8::1', '80', '0', '99999', '-1', '2.5', 'x', '{', '}', '"', "'", '#', '!', '\\',
    '\n', '\n', ' ', '\t', '\r', '\0', '\u00ff', 'ffff'];
  let seed = 12345;
  const random = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  let errors = 0;
  let imported = 0;
  for (let round = 0; round < 3000; round++) {
    const words = Array.from({ length: 1 + random(60) }, () => pieces[random(pieces.length)]!);
    const text = words.join(random(2) ? ' ' : '\n');
    let result;
    try {
      result = importKeepalived(text, 'fuzz.conf');
    } catch (error) {
      assert.unreachable(`importKeepalived threw ${(error as Error)?.stack ?? String(error)} for ${JSON.stringify(text)}`);
      return;
    }
    if (result.errors.length > 0) {
      errors++;
      for (const error of result.errors) assert.ok(Number.isInteger(error.line) && error.line >= 0, `an error names its line: ${JSON.stringify(error)}`);
      assert.is(result.yaml, undefined, 'no YAML when there are errors');
    } else {
      imported++;
    }
  }
  assert.ok(errors > 100 && imported > 100, `both outcomes happen (errors ${errors}, imported ${imported})`);
});

test.run();
