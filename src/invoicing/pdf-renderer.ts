/**
 * Where invoice PDFs are rendered: on worker threads when the compiled worker file exists (INVOICE_RENDER_THREADS,
 * default 1), on the calling thread otherwise (0, or runs from TypeScript sources such as Jest). A thread keeps
 * pdfkit's allocations in a heap of its own, capped, so the worker process's RSS stays flat, and it frees the event
 * loop for the database and file work of the other jobs while a PDF is being laid out.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { renderPdf, type InvoiceDocument } from './invoice-documents';

export interface PdfRequest {
  id: number;
  doc: InvoiceDocument;
}

export type PdfReply = { id: number; pdf: Uint8Array } | { id: number; error: string };

export interface PdfRenderer {
  render(doc: InvoiceDocument): Promise<Buffer>;
  close(): Promise<void>;
}

/** The old generation of each rendering thread: a document's garbage is a few MB; the fonts' tables about 40. */
const THREAD_HEAP_MB = 96;
/** The compiled worker beside this file (absent when running from TypeScript sources). */
const WORKER_FILE = join(__dirname, 'invoice-pdf.worker.js');

class InlineRenderer implements PdfRenderer {
  render(doc: InvoiceDocument): Promise<Buffer> {
    return renderPdf(doc);
  }

  async close(): Promise<void> {}
}

/** Round-robins documents over the threads; a thread that dies is replaced, failing only what it held. */
class ThreadRenderer implements PdfRenderer {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve(pdf: Buffer): void; reject(error: Error): void }>();
  private readonly owner = new Map<number, Worker>();
  private nextId = 0;
  private closing = false;

  constructor(private readonly size: number) {
    for (let i = 0; i < size; i++) this.workers.push(this.spawn());
  }

  render(doc: InvoiceDocument): Promise<Buffer> {
    if (this.closing) return Promise.reject(new Error('the invoice PDF renderer is closed'));
    const id = this.nextId++;
    const worker = this.workers[id % this.size];
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.owner.set(id, worker);
      worker.postMessage({ id, doc } satisfies PdfRequest);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    for (const waiter of this.pending.values()) waiter.reject(new Error('the invoice PDF renderer is closed'));
    this.pending.clear();
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_FILE, { resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB } });
    worker.on('message', (reply: PdfReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      this.owner.delete(reply.id);
      if ('error' in reply) waiter.reject(new Error(reply.error));
      else waiter.resolve(Buffer.from(reply.pdf.buffer, reply.pdf.byteOffset, reply.pdf.byteLength));
    });
    worker.on('error', () => undefined);
    worker.on('exit', (code) => {
      if (this.closing) return;
      // Its documents fail (their jobs are retried); a fresh thread takes its place.
      for (const [id, holder] of this.owner) {
        if (holder !== worker) continue;
        this.pending.get(id)?.reject(new Error(`an invoice rendering thread exited (code ${code})`));
        this.pending.delete(id);
        this.owner.delete(id);
      }
      const index = this.workers.indexOf(worker);
      if (index >= 0) this.workers[index] = this.spawn();
    });
    return worker;
  }
}

/** The renderer for `threads` rendering threads (0: the calling thread). */
export function pdfRendererFor(threads: number): PdfRenderer {
  return threads > 0 && existsSync(WORKER_FILE) ? new ThreadRenderer(threads) : new InlineRenderer();
}
