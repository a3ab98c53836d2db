import { describe, expect, it } from 'vitest';
import { guidToString, normalizeDn, rangedValues } from '../../connectors/ldap.js';

describe('Active Directory specifics', () => {
  it('decodes objectGUID with its first three fields little-endian', () => {
    const bytes = Buffer.from('a1b2c3d4e5f60718293a4b5c6d7e8f90', 'hex');
    expect(guidToString(bytes)).toBe('d4c3b2a1-f6e5-1807-293a-4b5c6d7e8f90');
  });

  it('reads a group of more than 1,500 members through range retrieval', async () => {
    const all = Array.from({ length: 3200 }, (_, i) => `cn=u${i},ou=people,dc=x`);
    const asked: string[] = [];
    const fetch = async (ranged: string) => {
      asked.push(ranged);
      const start = Number(/range=(\d+)-/.exec(ranged)![1]);
      const end = Math.min(start + 1499, all.length - 1);
      const last = end === all.length - 1;
      return { dn: 'cn=big,dc=x', [`member;range=${start}-${last ? '*' : end}`]: all.slice(start, end + 1) };
    };
    const entry = { dn: 'cn=big,dc=x', 'member;range=0-1499': all.slice(0, 1500) };
    const values = await rangedValues(entry, 'member', fetch);
    expect(values).toEqual(all);
    expect(asked).toEqual(['member;range=1500-*', 'member;range=3000-*']);
  });

  it('reads a plain attribute as it is', async () => {
    expect(await rangedValues({ dn: 'x', member: ['a', 'b'] }, 'member', async () => undefined)).toEqual(['a', 'b']);
  });

  it('compares DNs without case or spaces', () => {
    expect(normalizeDn('UID=Ada, OU=People,dc=Example')).toBe(normalizeDn('uid=ada,ou=people,DC=example'));
  });
});
