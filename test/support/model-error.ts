// Asserts that a model operation throws a ModelError with the given code and message.
import * as assert from 'uvu/assert';
import { ModelError } from '../../src/model/index.js';

export function expectError(fn: () => unknown, code: string, pattern: RegExp): void {
  try {
    fn();
    assert.unreachable('no error');
  } catch (error) {
    assert.instance(error, ModelError);
    assert.is((error as ModelError).code, code);
    assert.match((error as ModelError).message, pattern);
  }
}
