// The problems parseConfig reports for a config text that must be refused (fails the test if it is accepted).
import * as assert from 'uvu/assert';
import { ConfigError, parseConfig } from '../../src/config/load.js';

export function configProblems(text: string): string[] {
  try {
    parseConfig(text, 'test.yaml');
  } catch (error) {
    assert.instance(error, ConfigError);
    return (error as ConfigError).problems;
  }
  assert.unreachable('config accepted');
  return [];
}
