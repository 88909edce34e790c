import { describe, expect, it } from 'vitest';
import { ConnectionUrlError, parsePostgresUrl } from '../../../src/core/connection-url.js';

const problemOf = (url: string) => {
  try {
    parsePostgresUrl(url);
  } catch (e) {
    if (e instanceof ConnectionUrlError) return e.problem;
    throw e;
  }
  return undefined;
};

describe('parsePostgresUrl (the one parser of the API and the worker)', () => {
  it('takes a URL apart, decoding every part, with host= and hostaddr= winning over the authority', () => {
    expect(
      parsePostgresUrl('postgresql://app%40u:p%2Fw@[::1]:6543/my%20db?sslmode=require&hostaddr=10.0.0.5'),
    ).toEqual({
      host: '::1',
      port: '6543',
      user: 'app@u',
      password: 'p/w',
      database: 'my db',
      params: [
        { name: 'sslmode', value: 'require', variable: 'PGSSLMODE' },
        { name: 'hostaddr', value: '10.0.0.5', variable: 'PGHOSTADDR' },
      ],
      target: { host: '::1', hostaddr: '10.0.0.5' },
    });
    expect(parsePostgresUrl('postgres:///d?host=/tmp/sock')).toMatchObject({
      host: undefined,
      target: { host: '/tmp/sock' },
    });
    expect(parsePostgresUrl('postgres://%2Fvar%2Frun%2Fpostgresql/d').host).toBe('/var/run/postgresql');
  });

  it('names each problem without the URL', () => {
    expect(problemOf('not a url')).toEqual({ kind: 'unparseable' });
    expect(problemOf('mysql://u:p@h/d')).toEqual({ kind: 'scheme', protocol: 'mysql:' });
    expect(problemOf('postgres://u:p@h/d?bogus=1')).toEqual({ kind: 'unsupported-parameter', name: 'bogus' });
    expect(problemOf('postgres://u:p@h/d?sslkey=/etc/shadow')).toMatchObject({ kind: 'refused-parameter' });
    expect(problemOf('postgres://u:%zz@h/d')).toEqual({ kind: 'malformed-escape', part: 'password' });
    expect(problemOf('postgres://u:p@h/d?sslrootcert=system')).toBeUndefined();
  });
});
