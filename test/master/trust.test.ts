// resolveTrust: the refusals of a master configured to trust too much (or nonsense), what each
// endpoint is told to require, the HTTP Basic judge of operators, and a start-up summary that never
// holds a secret. isLoopback: which addresses count as reachable only from this host.
import { inspect } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ExposedMasterError, isLoopback, resolveTrust, type TrustOptions } from '../../src/master/trust.js';
import { InvalidOptionError } from '../../src/protocol/index.js';
import { Secret, type Credential } from '../../src/session/authentication.js';

const Trust = suite('master/trust');

const SECRETS = { alice: 'alice-secret-5f1c', bob: 'bob-secret-9a2e' };
const credentials: Credential[] = Object.entries(SECRETS).map(([principal, secret]) => ({ principal, secret: new Secret(secret) }));

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function refusal(action: () => unknown): Error & { code?: string } {
  try {
    action();
  } catch (error) {
    return error as Error & { code?: string };
  }
  return assert.unreachable('it should have thrown') as never;
}

Trust('isLoopback: 127.0.0.0/8, ::1 and localhost only', () => {
  for (const ip of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopback(ip), ip);
  for (const ip of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.5', '127.example.com', '127.0.0.1.nip.io', 'fe80::1', '::ffff:127.0.0.1']) assert.not.ok(isLoopback(ip), ip);
});

Trust('on loopback nothing needs saying: no authentication, every operator call open', () => {
  const trust = resolveTrust({}, '127.0.0.1');
  assert.equal([trust.agents.required, trust.schedulers.required, trust.agents.authenticator], [false, false, undefined]);
  assert.is(trust.operators, undefined);
  assert.equal(trust.summary, { principals: 0, authenticateAgents: false, authenticateFrameworks: false, operators: 'none' });
});

Trust('refuses to authenticate without credentials, naming the option and --credentials', () => {
  for (const options of [{ authenticateAgents: true }, { authenticateFrameworks: true, credentials: [] }] as TrustOptions[]) {
    const error = refusal(() => resolveTrust(options, '127.0.0.1'));
    assert.instance(error, InvalidOptionError);
    assert.is(error.code, 'ERR_INVALID_OPTION');
    assert.match(error.message, /option authenticate(Agents|Frameworks) must be false unless credentials are given \(--credentials\), got true/);
  }
});

Trust('refuses options of the wrong type, naming them', () => {
  assert.match(refusal(() => resolveTrust({ credentials: 'alice:x' as unknown as Credential[] }, '127.0.0.1')).message, /option credentials must be an array/);
  assert.match(refusal(() => resolveTrust({ authenticateAgents: 'yes' as unknown as boolean }, '127.0.0.1')).message, /option authenticateAgents must be a boolean, got "yes"/);
  assert.match(refusal(() => resolveTrust({ credentials, authenticateAgents: true, operatorPrincipals: 'alice' as unknown as string[] }, '127.0.0.1')).message, /option operatorPrincipals must be an array of principals/);
});

Trust('beyond loopback, refuses to start until both flags are said, naming the missing ones', () => {
  const both = refusal(() => resolveTrust({}, '0.0.0.0'));
  assert.instance(both, ExposedMasterError);
  assert.is(both.code, 'ERR_INVALID_OPTION');
  assert.match(both.message, /listens on 0\.0\.0\.0, beyond loopback/);
  assert.match(both.message, /turn on --authenticate_agents and --authenticate_frameworks \(with --credentials\), or say --authenticate_agents=false --authenticate_frameworks=false explicitly/);

  const one = refusal(() => resolveTrust({ authenticateAgents: false }, '10.1.2.3'));
  assert.match(one.message, /listens on 10\.1\.2\.3/);
  assert.match(one.message, /turn on --authenticate_frameworks \(with/);
  assert.not.match(one.message, /--authenticate_agents/);
  const other = refusal(() => resolveTrust({ credentials, authenticateFrameworks: true }, '10.1.2.3'));
  assert.match(other.message, /say --authenticate_agents=false explicitly/);
  assert.not.match(other.message, /--authenticate_frameworks/);

  // Said explicitly, either way: it starts.
  assert.is(resolveTrust({ authenticateAgents: false, authenticateFrameworks: false }, '0.0.0.0').operators, undefined);
  assert.ok(resolveTrust({ credentials, authenticateAgents: true, authenticateFrameworks: false }, '0.0.0.0').agents.required);
});

Trust('refuses an operator principal that is not in the credentials', () => {
  const error = refusal(() => resolveTrust({ credentials, authenticateAgents: true, operatorPrincipals: ['alice', 'mallory'] }, '127.0.0.1'));
  assert.instance(error, InvalidOptionError);
  assert.match(error.message, /option operatorPrincipals must be a principal listed in credentials \(--credentials\), got "mallory"/);
  assert.match(refusal(() => resolveTrust({ operatorPrincipals: ['alice'] }, '127.0.0.1')).message, /got "alice"/, 'no credentials at all');
});

Trust('each endpoint is told its own flag and link, and shares one authenticator', () => {
  const trust = resolveTrust({ credentials, authenticateAgents: true, authenticateFrameworks: false }, '127.0.0.1');
  assert.equal([trust.agents.required, trust.agents.link, trust.agents.flag], [true, 'agent', '--authenticate_agents']);
  assert.equal([trust.schedulers.required, trust.schedulers.link, trust.schedulers.flag], [false, 'scheduler', '--authenticate_frameworks']);
  assert.ok(trust.agents.authenticator);
  assert.is(trust.agents.authenticator, trust.schedulers.authenticator);
  assert.equal(trust.agents.authenticator!.principals, ['alice', 'bob']);
});

Trust('credentials without either flag on leave operator calls open', () => {
  const trust = resolveTrust({ credentials, authenticateAgents: false, authenticateFrameworks: false }, '127.0.0.1');
  assert.is(trust.operators, undefined);
  assert.is(trust.summary.operators, 'none');
  assert.ok(trust.agents.authenticator, 'a peer may still authenticate of its own accord');
});

Trust('the operator judge: no or malformed header 401, unknown principal or wrong secret 401, not an operator 403', () => {
  const trust = resolveTrust({ credentials, authenticateAgents: true, operatorPrincipals: ['alice'] }, '127.0.0.1');
  const judge = trust.operators!;
  assert.type(judge, 'function');

  for (const header of [undefined, '', 'Bearer abc', 'Basic', 'Basic !!!not-base64!!!']) {
    const verdict = judge(header) as { status: number; error: string; principal?: string };
    assert.is(verdict.status, 401, String(header));
    assert.match(verdict.error, /requires an operator credential \(HTTP Basic/);
    assert.is(verdict.principal, undefined);
  }
  assert.equal(judge(basic('mallory', 'guess')), { status: 401, error: 'authentication of principal mallory failed: unknown principal or wrong secret', principal: 'mallory' });
  assert.equal(judge(basic('alice', 'wrong')), { status: 401, error: 'authentication of principal alice failed: unknown principal or wrong secret', principal: 'alice' });
  assert.equal(judge(`Basic ${Buffer.from('alice').toString('base64')}`), { status: 401, error: 'authentication of principal alice failed: unknown principal or wrong secret', principal: 'alice' }, 'no colon: no password');
  assert.equal(judge(basic('bob', SECRETS.bob)), { status: 403, error: 'principal bob is not an operator (--operator_principals)', principal: 'bob' });
  assert.equal(judge(basic('alice', SECRETS.alice)), { principal: 'alice' });
  assert.equal(judge(`basic   ${Buffer.from(`alice:${SECRETS.alice}`).toString('base64')}  `), { principal: 'alice' }, 'the scheme is case-insensitive');
  assert.equal(trust.summary.operators, ['alice']);
});

Trust('without operatorPrincipals every principal of the credentials is an operator', () => {
  const trust = resolveTrust({ credentials, authenticateFrameworks: true, authenticateAgents: false }, '127.0.0.1');
  assert.equal(trust.operators!(basic('alice', SECRETS.alice)), { principal: 'alice' });
  assert.equal(trust.operators!(basic('bob', SECRETS.bob)), { principal: 'bob' });
  assert.is((trust.operators!(basic('bob', SECRETS.alice)) as { status: number }).status, 401, 'another principal\'s secret');
  assert.is(trust.summary.operators, 'all');
});

Trust('the summary counts principals and never holds a secret', () => {
  const trust = resolveTrust({ credentials, authenticateAgents: true, authenticateFrameworks: true, operatorPrincipals: ['bob'] }, '0.0.0.0');
  assert.equal(trust.summary, { principals: 2, authenticateAgents: true, authenticateFrameworks: true, operators: ['bob'] });
  const printed = JSON.stringify(trust.summary) + inspect(trust, { depth: 10 });
  for (const secret of Object.values(SECRETS)) assert.not.ok(printed.includes(secret), 'a secret was printed');
});

Trust.run();
