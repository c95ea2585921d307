import { spawnSync } from 'node:child_process';

/**
 * The text of a PDF, extracted by pdf-parse (pdf.js) in a child Node process: pdf.js is a large ESM bundle that
 * Jest's CommonJS runtime would have to transpile, and a separate process reads the file as any client would.
 */
export function pdfText(pdf: Buffer): string {
  const script = `
    const { PDFParse } = require('pdf-parse');
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', async () => {
      const parser = new PDFParse({ data: Buffer.concat(chunks) });
      const result = await parser.getText();
      await parser.destroy();
      process.stdout.write(JSON.stringify({ text: result.text, pages: result.total }));
    });`;
  const run = spawnSync(process.execPath, ['-e', script], { input: pdf, cwd: process.cwd(), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`pdf-parse failed: ${run.stderr}`);
  return (JSON.parse(run.stdout) as { text: string }).text;
}

/** Whether `pdftoppm` (poppler-utils) is on this machine; .ci/run installs it. */
export const PDFTOPPM = spawnSync('pdftoppm', ['-v']).status === 0;

/**
 * Page 1 rasterised by pdftoppm as a greyscale PGM at 50 dpi: the share of pixels that are not white, and the darkest.
 */
export function rasterInk(pdf: Buffer): { inked: number; darkest: number } {
  const run = spawnSync('pdftoppm', ['-gray', '-r', '50', '-f', '1', '-l', '1', '-'], {
    input: pdf,
    maxBuffer: 1 << 26,
  });
  if (run.status !== 0) throw new Error(`pdftoppm failed: ${String(run.stderr)}`);
  const image = run.stdout;
  // PGM (P5): magic, width, height, maxval, each followed by whitespace, then one byte per pixel.
  const header = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(image.subarray(0, 64).toString('latin1'));
  if (!header) throw new Error('pdftoppm did not write a PGM image');
  const pixels = image.subarray(header[0].length);
  let inked = 0;
  let darkest = 255;
  for (const value of pixels) {
    if (value < 200) inked++;
    if (value < darkest) darkest = value;
  }
  return { inked: inked / pixels.length, darkest };
}
