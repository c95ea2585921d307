import { CanonicalJsonText } from '../common/canonical-json';
import { RequestContext } from '../common/context/request-context';
import type { QueueService } from '../queue/queue.service';
import { FakeAudit, FakeTransactions } from '../../test/support/unit';
import { AssignmentsAuditJob } from './assignments-audit.job';
import type { Distribution } from './distribution.entity';
import type { DistributionRepository } from './distribution.repository';

/** The distribution's rows as the repository gives them: a summary and its digest per chunk. */
class FakeRepository {
  distribution: Partial<Distribution> | null = null;
  chunks: Array<{ summary: CanonicalJsonText; sha256: string }> = [];
  marked: string[] = [];
  deletedFiles: string[] = [];

  overdue: string[] = [];
  lockUnaudited = async () => this.distribution;
  unauditedDistributions = async (_ctx: unknown, olderThanMs: number) => (olderThanMs >= 60_000 ? this.overdue : []);
  assignmentSummaries = async () => this.chunks;
  markAssignmentsAudited = async (_ctx: unknown, id: string) => {
    this.marked.push(id);
  };
  deleteFileRows = async (_ctx: unknown, fileId: string) => {
    this.deletedFiles.push(fileId);
  };
}

function setup() {
  const repository = new FakeRepository();
  const audit = new FakeAudit();
  const transactions = new FakeTransactions();
  const enqueued: Array<{ how: string; name: string; payload: unknown; jobId?: string }> = [];
  const queues = {
    add: async (name: string, payload: unknown, options: { jobId?: string }) => {
      enqueued.push({ how: 'add', name, payload, jobId: options.jobId });
      return options.jobId;
    },
    addOrRetryFailed: async (name: string, payload: unknown, options: { jobId?: string }) => {
      enqueued.push({ how: 'addOrRetryFailed', name, payload, jobId: options.jobId });
      return options.jobId;
    },
  } as unknown as QueueService;
  const job = new AssignmentsAuditJob(
    repository as unknown as DistributionRepository,
    audit.service,
    transactions.service,
    queues,
  );
  /** The distribution's own record, as the request appended it: it commits these digests. */
  const committed = async (digests: string[]) => {
    const id = await audit.append(RequestContext.system(), {
      action: 'distribution.created',
      objectType: 'distribution',
      objectId: 'dst_1',
      summary: { order_id: 'ord_1', assignment_records: digests.length, assignment_sha256: digests },
    });
    repository.distribution = {
      id: 'dst_1',
      orderId: 'ord_1',
      enterpriseId: 'ent_1',
      fileId: 'dfl_1',
      assignmentsAuditId: id,
    };
  };
  const chunk = (text: string, sha256: string) => ({ summary: new CanonicalJsonText(text), sha256 });
  return { job, repository, audit, committed, chunk, enqueued };
}

/** What `promise` rejects with (it must reject). */
const thrown = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );

describe('AssignmentsAuditJob', () => {
  it('appends each summary whose digest the distribution committed, marks it and deletes the file rows, in one transaction', async () => {
    const { job, repository, audit, committed, chunk } = setup();
    await committed(['aaa', 'bbb']);
    repository.chunks = [chunk('{"chunk":0}', 'aaa'), chunk('{"chunk":1}', 'bbb')];

    await expect(job.write({ distributionId: 'dst_1' })).resolves.toEqual({ records: 2 });
    expect(audit.actions().slice(1)).toEqual(['distribution.cards_assigned', 'distribution.cards_assigned']);
    expect(audit.entries.slice(1).map((entry) => (entry.summary as CanonicalJsonText).text)).toEqual([
      '{"chunk":0}',
      '{"chunk":1}',
    ]);
    expect(audit.entries[1]).toMatchObject({ objectType: 'distribution', objectId: 'dst_1', enterpriseId: 'ent_1' });
    expect(audit.inTransaction.slice(1)).toEqual([true, true]);
    expect(repository.marked).toEqual(['dst_1']);
    expect(repository.deletedFiles).toEqual(['dfl_1']);
  });

  it('does nothing for a distribution already written (or unknown)', async () => {
    const { job, repository, audit } = setup();
    repository.distribution = null;
    await expect(job.write({ distributionId: 'dst_1' })).resolves.toEqual({ records: 0 });
    expect(audit.entries).toEqual([]);
    expect(repository.marked).toEqual([]);
  });

  it('writes nothing and fails when the rows no longer give the committed digests', async () => {
    const { job, repository, audit, committed, chunk } = setup();
    await committed(['aaa', 'bbb']);
    repository.chunks = [chunk('{"chunk":0}', 'aaa'), chunk('{"chunk":1,"altered":true}', 'ccc')];
    const error = await thrown(job.write({ distributionId: 'dst_1' }));
    expect(String(error)).toMatch(
      /differ from the digests committed in audit record aud_0 \(2 summaries for 2; differing: 1\)/,
    );
    expect(audit.actions()).toEqual(['distribution.created']);
    expect(repository.marked).toEqual([]);
    expect(repository.deletedFiles).toEqual([]);

    // A row more, or a row less, than was committed.
    repository.chunks = [chunk('{"chunk":0}', 'aaa')];
    expect(String(await thrown(job.write({ distributionId: 'dst_1' })))).toMatch(/1 summaries for 2/);
    expect(audit.actions()).toEqual(['distribution.created']);
  });

  it('fails when the distribution names no record that commits digests', async () => {
    const { job, repository, audit } = setup();
    repository.distribution = {
      id: 'dst_1',
      orderId: 'ord_1',
      enterpriseId: 'ent_1',
      fileId: null,
      assignmentsAuditId: 'aud_9',
    };
    expect(String(await thrown(job.write({ distributionId: 'dst_1' })))).toMatch(/commits no assignment digests/);
    expect(audit.entries).toEqual([]);
  });

  it('is enqueued once per distribution, and again by the sweep (retrying a failed one) when overdue', async () => {
    const { job, repository, enqueued } = setup();
    await job.enqueue('dst_1');
    repository.overdue = ['dst_2', 'dst_3'];
    await expect(job.sweep()).resolves.toBe(2);
    expect(enqueued).toEqual([
      {
        how: 'add',
        name: 'audit-distribution-assignments',
        payload: { distributionId: 'dst_1' },
        jobId: 'audit-assignments-dst_1',
      },
      {
        how: 'addOrRetryFailed',
        name: 'audit-distribution-assignments',
        payload: { distributionId: 'dst_2' },
        jobId: 'audit-assignments-dst_2',
      },
      {
        how: 'addOrRetryFailed',
        name: 'audit-distribution-assignments',
        payload: { distributionId: 'dst_3' },
        jobId: 'audit-assignments-dst_3',
      },
    ]);
  });
});
