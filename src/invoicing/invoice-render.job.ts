import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { RequestContext } from '../common/context/request-context';
import { MailSender } from '../distribution/channels/mail.sender';
import { OnJob } from '../queue/on-job.decorator';
import { JobName } from '../queue/queue.constants';
import { QueueService } from '../queue/queue.service';
import { formatYuan } from './invoice-policy';
import { FileStorage } from '../storage/file-storage';
import { invoiceDocumentKey, renderJson, renderXml, sha256Hex, type InvoiceDocument } from './invoice-documents';
import { pdfRendererFor, type PdfRenderer } from './pdf-renderer';
import type { Invoice } from './invoice.entity';
import { InvoicingRepository } from './invoicing.repository';
import { AppConfig } from '../config/app-config';

/** Invoices the sweep enqueues per run; a rendering committed this long ago and still pending was lost. */
const SWEEP_LIMIT = 500;
const SWEEP_AGE_MS = 60_000;

/** The documents' fields of an invoice (the red-letter one names its original's number). */
export function invoiceDocumentOf(invoice: Invoice, original: Invoice | null, drawer: string): InvoiceDocument {
  return {
    id: invoice.id,
    number: invoice.number,
    kind: invoice.kind,
    invoiceType: 'ordinary',
    issuedAt: invoice.issuedAt,
    buyer: invoice.buyer,
    seller: invoice.seller,
    lines: invoice.lines,
    amountInWords: invoice.amountInWords,
    originalNumber: original?.number ?? null,
    note: invoice.note,
    drawer,
  };
}

/**
 * The worker side of invoices: renders an invoice's PDF (pdfkit, CJK font subset-embedded), XML and JSON, stores them
 * in the file store every process sees (FileStorage) with their SHA-256, then e-mails the PDF to the profile's addresses (MailSender of the
 * distribution channels: SMTP, or .eml files without SMTP_URL). Safe to run twice: rendering rewrites the same files
 * from the same fields, and the e-mail goes out until one attempt has sent it to every address.
 */
@Injectable()
export class InvoiceRenderJob implements OnModuleDestroy {
  private readonly logger = new Logger(InvoiceRenderJob.name);
  private renderer: PdfRenderer | undefined;

  constructor(
    private readonly repository: InvoicingRepository,
    private readonly files: FileStorage,
    private readonly mail: MailSender,
    private readonly queues: QueueService,
    private readonly config: AppConfig,
  ) {}

  @OnJob(JobName.RenderInvoice)
  async render(payload: { invoiceId: string; rerender?: boolean }): Promise<{ rendered: boolean; emailed: number }> {
    const ctx = RequestContext.system();
    const invoice = await this.repository.find(ctx, payload.invoiceId);
    if (!invoice) return { rendered: false, emailed: 0 };
    let rendered = false;
    if (invoice.renderStatus !== 'rendered' || payload.rerender) {
      await this.renderAndStore(ctx, invoice);
      rendered = true;
    }
    const emailed = invoice.emailedAt ? 0 : await this.deliver(ctx, invoice);
    return { rendered, emailed };
  }

  /** Renders the three documents and records where they are and their SHA-256. */
  async renderAndStore(ctx: RequestContext, invoice: Invoice): Promise<void> {
    const original = invoice.originalInvoiceId ? await this.repository.find(ctx, invoice.originalInvoiceId) : null;
    const doc = invoiceDocumentOf(invoice, original, this.config.INVOICE_DRAWER);
    // Threads start with the first rendering: API-only processes never start them.
    this.renderer ??= pdfRendererFor(this.config.INVOICE_RENDER_THREADS);
    const pdf = await this.renderer.render(doc);
    const xml = renderXml(doc);
    const json = renderJson(doc);
    const paths = {
      pdf: invoiceDocumentKey(invoice.id, invoice.year, 'pdf'),
      xml: invoiceDocumentKey(invoice.id, invoice.year, 'xml'),
      json: invoiceDocumentKey(invoice.id, invoice.year, 'json'),
    };
    await this.files.write(paths.pdf, pdf);
    await this.files.write(paths.xml, xml);
    await this.files.write(paths.json, json);
    const files = {
      pdfPath: paths.pdf,
      pdfSha256: sha256Hex(pdf),
      xmlPath: paths.xml,
      xmlSha256: sha256Hex(xml),
      jsonSha256: sha256Hex(json),
    };
    await this.repository.markRendered(ctx, invoice.id, files);
    Object.assign(invoice, files, { renderStatus: 'rendered' });
  }

  /** E-mails the PDF to every address of the profile; a temporary failure throws (the job is retried). */
  private async deliver(ctx: RequestContext, invoice: Invoice): Promise<number> {
    const profile = await this.repository.profileOf(ctx, invoice.enterpriseId);
    if (!profile || profile.emails.length === 0 || !invoice.pdfPath) return 0;
    const pdf = await this.files.readAll(invoice.pdfPath);
    if (!pdf) throw new Error(`invoice ${invoice.id}: its PDF is missing from the file store`);
    const red = invoice.kind === 'red';
    const subject = `${red ? '红字发票' : '电子发票'} ${invoice.number}：${formatYuan(invoice.amount)} 元`;
    const text =
      `${invoice.buyer.title}：\n\n附件为${red ? '红字发票（冲红）' : '电子发票（普通发票）'} ${invoice.number}，` +
      `价税合计 ${formatYuan(invoice.amount)} 元（${invoice.amountInWords}）。\n\n${invoice.seller.name}`;
    let sent = 0;
    for (const to of profile.emails) {
      const outcome = await this.mail.send({
        to,
        fromName: invoice.seller.name,
        subject,
        text,
        html: `<p>${text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\n/g, '<br>')}</p>`,
        headers: { 'X-Fuli-Invoice': invoice.id },
        attachments: [{ filename: `invoice-${invoice.number}.pdf`, content: pdf, contentType: 'application/pdf' }],
      });
      if (outcome.ok) sent++;
      else if (!outcome.permanent) throw new Error(`invoice ${invoice.id}: mail to a profile address failed, retrying`);
      else this.logger.warn({ msg: 'invoice mail bounced', invoiceId: invoice.id, error: outcome.error });
    }
    await this.repository.markEmailed(ctx, invoice.id);
    return sent;
  }

  async onModuleDestroy(): Promise<void> {
    await this.renderer?.close();
  }

  @OnJob(JobName.SweepInvoiceRendering)
  async sweep(): Promise<{ enqueued: number }> {
    const ids = await this.repository.unrendered(
      RequestContext.system(),
      new Date(Date.now() - SWEEP_AGE_MS),
      SWEEP_LIMIT,
    );
    for (const invoiceId of ids) {
      await this.queues.addOrRetryFailed(JobName.RenderInvoice, { invoiceId }, { jobId: `render-${invoiceId}` });
    }
    return { enqueued: ids.length };
  }
}
