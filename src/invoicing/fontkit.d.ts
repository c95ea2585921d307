/** The one call of fontkit (pdfkit's font engine) used here; the package ships no types. */
declare module 'fontkit' {
  /** A parsed font; pdfkit's registerFont accepts it in place of the file's bytes (anything with `layout`). */
  export interface Font {
    layout(text: string): unknown;
  }
  export function create(buffer: Buffer): Font;
}
