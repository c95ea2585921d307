import { createHash, createHmac, randomBytes } from 'node:crypto';
import { auditData, ChainVerifier, chainHash, checkpointMac, GENESIS_HASH, linkHash, recordMac } from './audit-chain';
import { AuditRecord } from './audit-record.entity';
import { digestOf } from '../common/canonical-json';

function record(fields: Partial<AuditRecord> & Pick<AuditRecord, 'seq' | 'prevHash'>): AuditRecord {
  const result = Object.assign(new AuditRecord(), {
    id: `aud_${String(fields.seq).padStart(26, '0')}`,
    occurredAt: new Date(Date.UTC(2025, 0, 1, 0, 0, fields.seq)),
    actorClientId: 'cli_operator',
    enterpriseId: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB',
    action: 'enterprise.updated',
    objectType: 'enterprise',
    objectId: 'ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB',
    requestId: `req_${fields.seq}`,
    data: auditData({ n: fields.seq - 1 }, { n: fields.seq }, { changed: ['n'] }),
    keyId: null,
    mac: null,
    ...fields,
  });
  result.hash = fields.hash ?? chainHash(result);
  return result;
}

function chain(length: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (let seq = 1; seq <= length; seq++) {
    records.push(record({ seq, prevHash: records[seq - 2]?.hash ?? GENESIS_HASH }));
  }
  return records;
}

function verify(records: AuditRecord[]) {
  const verifier = new ChainVerifier();
  for (const item of records) if (!verifier.check(item)) break;
  return { ok: verifier.firstFailure === null, checked: verifier.recordsChecked, failure: verifier.firstFailure };
}

describe('chainHash', () => {
  it('is SHA-256 over the sorted-key JSON of every field, snake_case, plus prev_hash', () => {
    const first = record({
      seq: 1,
      prevHash: GENESIS_HASH,
      data: { before_sha256: null, after_sha256: 'ab', summary: null },
    });
    const text =
      '{"action":"enterprise.updated","actor_client_id":"cli_operator","data":{"after_sha256":"ab","before_sha256":null,"summary":null},' +
      '"enterprise_id":"ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB","id":"aud_00000000000000000000000001","object_id":"ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB",' +
      `"object_type":"enterprise","occurred_at":"2025-01-01T00:00:01.000Z","prev_hash":"${GENESIS_HASH}","request_id":"req_1","seq":1}`;
    expect(chainHash(first)).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it('changes with every field, including the key order-free data and the link', () => {
    const base = record({ seq: 1, prevHash: GENESIS_HASH });
    const variants: Array<Partial<AuditRecord>> = [
      { seq: 2 },
      { id: 'aud_other' },
      { occurredAt: new Date(base.occurredAt.getTime() + 1) },
      { actorClientId: null },
      { enterpriseId: null },
      { action: 'enterprise.created' },
      { objectType: 'order' },
      { objectId: 'ent_other' },
      { requestId: null },
      { data: { ...base.data, summary: { changed: ['m'] } } },
      { prevHash: 'f'.repeat(64) },
    ];
    for (const variant of variants) expect(chainHash({ ...base, ...variant })).not.toBe(base.hash);
    const reordered = {
      summary: base.data.summary,
      after_sha256: base.data.after_sha256,
      before_sha256: base.data.before_sha256,
    };
    expect(chainHash({ ...base, data: reordered })).toBe(base.hash);
  });
});

describe('auditData', () => {
  it('keeps digests of before and after, never the objects', () => {
    const before = { bank_account: '6222 0000 1111', name: 'A' };
    const after = { name: 'B', bank_account: '6222 0000 1111' };
    const data = auditData(before, after, { changed: ['name'] });
    expect(data).toEqual({
      before_sha256: digestOf(before),
      after_sha256: digestOf(after),
      summary: { changed: ['name'] },
    });
    expect(JSON.stringify(data)).not.toContain('6222');
  });

  it('writes null for an absent side and an absent summary', () => {
    expect(auditData(undefined, null, undefined)).toEqual({ before_sha256: null, after_sha256: null, summary: null });
  });

  it('normalises the summary to what jsonb will give back', () => {
    const data = auditData(null, null, { at: new Date('2025-01-01T00:00:00Z'), skipped: undefined, big: 10n });
    expect(data.summary).toEqual({ at: '2025-01-01T00:00:00.000Z', big: '10' });
  });
});

describe('ChainVerifier', () => {
  it('accepts an intact chain and an empty one', () => {
    expect(verify(chain(5))).toEqual({ ok: true, checked: 5, failure: null });
    expect(verify([])).toEqual({ ok: true, checked: 0, failure: null });
  });

  it('reports an edited record as hash_mismatch at its seq', () => {
    const records = chain(5);
    records[2] = { ...records[2], data: { ...records[2].data, summary: { changed: ['forged'] } } };
    expect(verify(records)).toEqual({
      ok: false,
      checked: 3,
      failure: { seq: 3, id: records[2].id, reason: 'hash_mismatch' },
    });
  });

  it('reports an edited record whose hash was recomputed as broken_link at the next record', () => {
    const records = chain(5);
    const forged = { ...records[2], action: 'enterprise.created' };
    records[2] = { ...forged, hash: chainHash(forged) };
    expect(verify(records).failure).toEqual({ seq: 4, id: records[3].id, reason: 'broken_link' });
  });

  it('reports a deleted record as missing_record with the missing seq', () => {
    const records = chain(5);
    records.splice(2, 1);
    expect(verify(records)).toEqual({ ok: false, checked: 3, failure: { seq: 3, id: null, reason: 'missing_record' } });
  });

  it('reports a missing first record', () => {
    expect(verify(chain(3).slice(1)).failure).toEqual({ seq: 1, id: null, reason: 'missing_record' });
  });

  it('reports a deletion hidden by renumbering as broken_link', () => {
    const records = chain(5);
    records.splice(2, 1);
    const renumbered = records.map((item, index) => {
      const moved = { ...item, seq: index + 1 };
      return { ...moved, hash: chainHash(moved) };
    });
    expect(verify(renumbered).failure).toEqual({ seq: 3, id: renumbered[2].id, reason: 'broken_link' });
  });

  it('requires the first record to link to the genesis hash', () => {
    const first = record({ seq: 1, prevHash: 'a'.repeat(64) });
    expect(verify([first]).failure).toEqual({ seq: 1, id: first.id, reason: 'broken_link' });
  });

  it('stops at the first failure', () => {
    const records = chain(4);
    records[1] = { ...records[1], hash: 'b'.repeat(64) };
    records[3] = { ...records[3], hash: 'c'.repeat(64) };
    const verifier = new ChainVerifier();
    expect(records.map((item) => verifier.check(item))).toEqual([true, false, false, false]);
    expect(verifier.recordsChecked).toBe(2);
    expect(verifier.firstFailure?.seq).toBe(2);
  });
});

describe('keyed records', () => {
  const KEY = randomBytes(32);
  const keys = new Map([['k1', KEY]]);

  /** Appends `count` keyed records after `before`, as AuditService does (the link computed as the database does). */
  function keyed(before: AuditRecord[], count: number, key = KEY, keyId = 'k1'): AuditRecord[] {
    const records = [...before];
    for (let i = 0; i < count; i++) {
      const seq = records.length + 1;
      const prevHash = records[seq - 2]?.hash ?? GENESIS_HASH;
      const base = record({ seq, prevHash, keyId });
      const mac = recordMac(key, { ...base, keyId });
      records.push({ ...base, mac, hash: linkHash(prevHash, seq, mac) });
    }
    return records;
  }
  const check = (records: AuditRecord[], verifier = new ChainVerifier(keys)) => {
    for (const item of records) if (!verifier.check(item)) break;
    return verifier.firstFailure;
  };

  it('MACs the fields under the key and links sha256(prev_hash:seq:mac)', () => {
    const [first] = keyed([], 1);
    const text =
      '{"action":"enterprise.updated","actor_client_id":"cli_operator","data":' +
      JSON.stringify(first.data) +
      ',"enterprise_id":"ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB","id":"aud_00000000000000000000000001","key_id":"k1","object_id":"ent_01JDQ6ZK6Y8V3N2M4T5R7W9XAB",' +
      '"object_type":"enterprise","occurred_at":"2025-01-01T00:00:01.000Z","request_id":"req_1"}';
    expect(first.mac).toBe(createHmac('sha256', KEY).update(text).digest('hex'));
    expect(first.hash).toBe(createHash('sha256').update(`${GENESIS_HASH}:1:${first.mac}`).digest('hex'));
  });

  it('accepts a keyed chain, and one that continues an unkeyed chain', () => {
    expect(check(keyed([], 4))).toBeNull();
    expect(check(keyed(chain(3), 3))).toBeNull();
  });

  it('reports an edited record as hash_mismatch, even with its link recomputed (the MAC needs the key)', () => {
    const records = keyed([], 4);
    const forged = { ...records[1], objectId: 'ent_forged' };
    records[1] = { ...forged, hash: linkHash(forged.prevHash, forged.seq, forged.mac!) };
    expect(check(records)).toEqual({ seq: 2, id: records[1].id, reason: 'hash_mismatch' });
  });

  it('reports a record MACed with another key as hash_mismatch, an unknown key id as unknown_key', () => {
    const records = keyed([], 2);
    const other = keyed(records.slice(0, 1), 1, randomBytes(32));
    expect(check(other)).toEqual({ seq: 2, id: other[1].id, reason: 'hash_mismatch' });
    const unknown = keyed(records.slice(0, 1), 1, KEY, 'k9');
    expect(check(unknown)).toEqual({ seq: 2, id: unknown[1].id, reason: 'unknown_key' });
  });

  it('refuses an unkeyed record after a keyed one: a forger without the key would write those', () => {
    const records = keyed([], 2);
    const forged = record({ seq: 3, prevHash: records[1].hash });
    expect(check([...records, forged])).toEqual({ seq: 3, id: forged.id, reason: 'hash_mismatch' });
  });

  it('resumes after a verified record, and reports the head it reached', () => {
    const records = keyed([], 5);
    const verifier = new ChainVerifier(keys, { seq: 2, hash: records[1].hash });
    expect(check(records.slice(2), verifier)).toBeNull();
    expect(verifier.recordsChecked).toBe(3);
    expect(verifier.head).toEqual({ seq: 5, hash: records[4].hash });
    const wrongStart = new ChainVerifier(keys, { seq: 2, hash: 'e'.repeat(64) });
    expect(check(records.slice(2), wrongStart)?.reason).toBe('broken_link');
  });

  it('signs checkpoints over key id, seq, hash and time', () => {
    const at = new Date('2025-01-01T00:00:00Z');
    const mac = checkpointMac(KEY, { keyId: 'k1', seq: 5, hash: 'a'.repeat(64), createdAt: at });
    expect(mac).toBe(
      createHmac('sha256', KEY)
        .update(`audit-checkpoint:k1:5:${'a'.repeat(64)}:2025-01-01T00:00:00.000Z`)
        .digest('hex'),
    );
    expect(checkpointMac(KEY, { keyId: 'k1', seq: 4, hash: 'a'.repeat(64), createdAt: at })).not.toBe(mac);
  });
});
