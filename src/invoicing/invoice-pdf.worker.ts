/**
 * Worker thread of the invoice PDF renderer (src/invoicing/pdf-renderer.ts): renders each document it is sent with
 * renderPdf and answers with the bytes or the error's message. Its own small heap (resourceLimits) takes pdfkit's
 * garbage, so the worker process's main heap, and its RSS, stay flat however many invoices it renders.
 */
import { parentPort } from 'node:worker_threads';
import { renderPdf } from './invoice-documents';
import type { PdfReply, PdfRequest } from './pdf-renderer';

parentPort!.on('message', ({ id, doc }: PdfRequest) => {
  renderPdf(doc).then(
    (pdf) => parentPort!.postMessage({ id, pdf } satisfies PdfReply),
    (error: unknown) =>
      parentPort!.postMessage({
        id,
        error: error instanceof Error ? error.message : 'rendering failed',
      } satisfies PdfReply),
  );
});
