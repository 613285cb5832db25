// The SchedulerDriver's own errors: a framework matches on `code`, so a master's ERROR code this
// release knows is kept as it is, any other becomes ERR_PROTOCOL with the master's own in masterCode.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LifelineError } from '../../src/protocol/index.js';
import { DriverStoppedError, MasterError } from '../../src/scheduler/errors.js';

const Errors = suite('scheduler errors');

Errors('a known code is the error\'s code, and the message names the master and the code', () => {
  for (const code of ['ERR_UNAUTHORIZED', 'ERR_UNAUTHENTICATED', 'ERR_PROTOCOL_VERSION', 'ERR_ILLEGAL_STATE']) {
    const error = new MasterError('127.0.0.1:5050', code, 'no');
    assert.instance(error, LifelineError);
    assert.is(error.code, code);
    assert.is(error.masterCode, code);
    assert.is(error.message, `master at 127.0.0.1:5050 refused: no [${code}]`);
  }
});

Errors('an unknown code (a newer master\'s) becomes ERR_PROTOCOL and is kept in masterCode', () => {
  const error = new MasterError('m:1', 'ERR_SOMETHING_NEW', 'later');
  assert.is(error.code, 'ERR_PROTOCOL');
  assert.is(error.masterCode, 'ERR_SOMETHING_NEW');
  assert.match(error.message, /\[ERR_SOMETHING_NEW\]$/);
});

Errors('a call on a stopped driver says what could not be done', () => {
  const error = new DriverStoppedError('accept offers');
  assert.is(error.code, 'ERR_DRIVER_STOPPED');
  assert.is(error.message, 'cannot accept offers: the scheduler driver is stopped');
});

Errors.run();
