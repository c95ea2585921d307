import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';

/**
 * Where invoice documents live: `DATA_DIR/invoices/<yyyy>/<invoice id>.{pdf,xml,json}` (DATA_DIR is `.data` by
 * default), the shape of exports' ExportStorage: every process that renders or serves invoices must see the same
 * directory (one machine, or a shared volume). The database stores paths relative to DATA_DIR and each file's SHA-256.
 * Invoices are kept: a tax document is archived, never swept.
 */
@Injectable()
export class InvoiceStorage {
  private readonly root: string;

  constructor(config: AppConfig) {
    this.root = config.dataDir;
  }

  relativePathOf(invoiceId: string, year: number, extension: 'pdf' | 'xml' | 'json'): string {
    return join('invoices', String(year), `${invoiceId}.${extension}`);
  }

  /** Absolute path of a stored relative path; refuses anything that would leave DATA_DIR/invoices. */
  absolute(relativePath: string): string {
    const dir = resolve(this.root, 'invoices');
    const path = resolve(this.root, relativePath);
    if (!path.startsWith(dir + sep)) throw new Error('invoice storage path outside DATA_DIR/invoices');
    return path;
  }

  /** Writes the whole file, then renames it into place: a reader never sees half a document. */
  async put(relativePath: string, data: Buffer): Promise<void> {
    const path = this.absolute(relativePath);
    await mkdir(resolve(path, '..'), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, data, { mode: 0o600 });
    await rename(temporary, path);
  }

  async read(relativePath: string): Promise<Buffer> {
    return readFile(this.absolute(relativePath));
  }
}
