// log.format: text stays "<time> <LEVEL> <message> key=value"; json is one object per line with
// level, time (ISO 8601), message and the fields; the config key is checked with its path.
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/config/load.js';
import { formatLine } from '../../src/log.js';
import { configProblems } from '../support/config-problems.js';
import { test } from '../support/suite.js';

const AT = new Date('2026-12-05T06:00:00.123Z');
const PORTS = `ports:
  - { name: outside, device: ring, addresses: [198.18.0.254/24] }
`;

test('text: time, level, message on one line, then key=value fields (quoted when they hold spaces)', () => {
  assert.is(formatLine('info', 'applied\nsecond line', { caller: 'unix socket', generation: 4, ok: true }, AT, 'text'),
    '2026-12-05T06:00:00.123Z INFO applied | second line caller="unix socket" generation=4 ok=true');
  assert.is(formatLine('warn', 'plain', undefined, AT, 'text'), '2026-12-05T06:00:00.123Z WARN plain');
});

test('json: one object per line with level, time, message and every field; a field cannot hide the three', () => {
  const line = formatLine('error', 'two\nlines "quoted"', { caller: 'ops', generation: 7, message: 'spoof', level: 'x' }, AT, 'json');
  assert.not.match(line, /\n/);
  assert.equal(JSON.parse(line), {
    level: 'error', time: '2026-12-05T06:00:00.123Z', message: 'two\nlines "quoted"', caller: 'ops', generation: 7,
    field_message: 'spoof', field_level: 'x',
  });
});

test('log.format: text by default, json accepted, anything else refused naming the field', () => {
  assert.equal(parseConfig(PORTS, 'test.yaml').log, { format: 'text' });
  assert.equal(parseConfig(`${PORTS}log: { format: json }\n`, 'test.yaml').log, { format: 'json' });
  assert.equal(configProblems(`${PORTS}log: { format: xml }\n`), ['log.format: expected one of text, json, got "xml"']);
  assert.equal(configProblems(`${PORTS}log: { level: debug }\n`).length, 1);
  assert.match(configProblems(`${PORTS}log: { level: debug }\n`)[0]!, /^log\.level: /);
});

test.run();
