/**
 * A supertest parser that collects a binary response body (supertest buffers JSON and text only):
 * `.buffer(true).parse(binaryBody)` leaves the file's bytes in `response.body` as a Buffer.
 */
export function binaryBody(
  res: { on(event: 'data' | 'end', listener: (chunk: Buffer) => void): unknown },
  callback: (err: Error | null, body: Buffer) => void,
): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => callback(null, Buffer.concat(chunks)));
}
