import { describe, expect, it } from 'vitest';
import { bulkOperationError, bulkSupportOf, createdId, parseBulkResponse, type BulkOperation } from '../../src/scim/bulk.js';

const RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';
const sent: BulkOperation[] = [
  { method: 'POST', path: '/Users', bulkId: 'b1', data: {} },
  { method: 'PATCH', path: '/Users/u-2', data: {} },
  { method: 'POST', path: '/Users', bulkId: 'b2', data: {} },
  { method: 'DELETE', path: '/Groups/g-1' },
];

describe('Bulk answers (RFC 7644 §3.7.3)', () => {
  it('maps each answer to its operation: POSTs by bulkId, the others by method and location, in any order', () => {
    const parsed = parseBulkResponse(
      {
        schemas: [RESPONSE],
        Operations: [
          { method: 'DELETE', location: 'https://t/scim/v2/Groups/g-1', status: '204' },
          { method: 'POST', bulkId: 'b2', status: '409', response: { status: '409', scimType: 'uniqueness', detail: 'taken' } },
          { method: 'PATCH', location: 'https://t/scim/v2/Users/u-2', status: '200' },
          { method: 'POST', bulkId: 'b1', location: 'https://t/scim/v2/Users/new-1', status: '201' },
        ],
      },
      sent,
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.answers.map((a) => a.status)).toEqual([201, 200, 409, 204]);
    expect(createdId(parsed.answers[0]!)).toBe('new-1');
    const err = bulkOperationError(sent[2]!, parsed.answers[2]!);
    expect(err).toMatchObject({ kind: 'conflict', status: 409, scimType: 'uniqueness', detail: 'taken' });
  });

  it('refuses an answer that is not a BulkResponse, or leaves an operation out', () => {
    expect(parseBulkResponse('<html>', sent)).toMatchObject({ ok: false, reason: 'the answer is not a BulkResponse' });
    const partial = parseBulkResponse({ schemas: [RESPONSE], Operations: [{ method: 'POST', bulkId: 'b1', status: '201', location: '/Users/x' }] }, sent);
    expect(partial).toMatchObject({ ok: false, reason: expect.stringMatching(/no answer for operation 2 \(PATCH \/Users\/u-2\)/) });
  });

  it('refuses an answer whose create returns another resource than the one sent (mixed-up bulkIds)', () => {
    const creates: BulkOperation[] = [
      { method: 'POST', path: '/Users', bulkId: 'b1', data: { userName: 'ada@example.com', externalId: 'u1' } },
      { method: 'POST', path: '/Users', bulkId: 'b2', data: { userName: 'bob@example.com', externalId: 'u2' } },
    ];
    const answer = (b1: Record<string, unknown>, b2: Record<string, unknown>) =>
      parseBulkResponse(
        {
          schemas: [RESPONSE],
          Operations: [
            { method: 'POST', bulkId: 'b1', status: '201', location: `/Users/${String(b1.id)}`, response: b1 },
            { method: 'POST', bulkId: 'b2', status: '201', location: `/Users/${String(b2.id)}`, response: b2 },
          ],
        },
        creates,
      );
    // The same names, another case: the target folded it, as a lookup's answer may.
    expect(answer({ id: 'x1', userName: 'Ada@Example.com', externalId: 'u1' }, { id: 'x2', userName: 'bob@example.com', externalId: 'u2' }).ok).toBe(true);
    expect(answer({ id: 'x2', userName: 'bob@example.com', externalId: 'u2' }, { id: 'x1', userName: 'ada@example.com', externalId: 'u1' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/operation 1 \(POST \/Users, bulkId b1\) with another resource: userName bob@example.com, where ada@example.com was sent/),
    });
    const located = parseBulkResponse(
      { schemas: [RESPONSE], Operations: [{ method: 'POST', bulkId: 'b1', status: '201', location: '/Users/x9', response: { id: 'x1', userName: 'ada@example.com' } }] },
      creates.slice(0, 1),
    );
    expect(located).toMatchObject({ ok: false, reason: expect.stringMatching(/location names \/Users\/x9, its resource has id x1/) });
  });

  it('reads Bulk support from /ServiceProviderConfig, refusing what cannot be used', () => {
    expect(bulkSupportOf({ bulk: { supported: true, maxOperations: 1000, maxPayloadSize: 1048576 } })).toEqual({ maxOperations: 1000, maxPayloadSize: 1048576 });
    expect(bulkSupportOf({ bulk: { supported: 'true', maxOperations: '50', maxPayloadSize: '65536' } })).toEqual({ maxOperations: 50, maxPayloadSize: 65536 });
    expect(bulkSupportOf({ bulk: { supported: false, maxOperations: 1000, maxPayloadSize: 1048576 } })).toBeUndefined();
    expect(bulkSupportOf({ bulk: { supported: true } })).toBeUndefined();
    expect(bulkSupportOf({ bulk: { supported: true, maxOperations: 1, maxPayloadSize: 1048576 } })).toBeUndefined();
    expect(bulkSupportOf(undefined)).toBeUndefined();
  });
});
