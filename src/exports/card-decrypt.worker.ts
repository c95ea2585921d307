/**
 * Worker thread of DecryptPool: turns chunks of COPY lines into CSV lines, opening each card's envelope with
 * its own CardSecrets. It receives the two key settings in workerData (same process, never logged) and
 * answers every message, with the CSV or with the error's code and message (which name serials at most).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DataCipher } from '../common/crypto/data-cipher.service';
import type { AppConfig } from '../config/app-config';
import { CardSecrets } from '../cards/card-secrets';
import { CardCsvConverter, ExportBuildError } from './export-csv';
import type { DecryptReply, DecryptRequest, DecryptWorkerData } from './decrypt-pool';

const { keys } = workerData as DecryptWorkerData;
// CardSecrets and DataCipher read these two settings only.
const config = keys as AppConfig;
const secrets = new CardSecrets(config, new DataCipher(config));
const converter = new CardCsvConverter(secrets.reader());

parentPort!.on('message', ({ id, lines }: DecryptRequest) => {
  let reply: DecryptReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const before = converter.rowCount;
    const csv = converter.convert(Buffer.from(lines.buffer, lines.byteOffset, lines.byteLength));
    reply = { id, csv, rows: converter.rowCount - before };
    // The CSV has an ArrayBuffer of its own (CardCsvConverter.convert): moved to the main thread, not copied.
    transfer = [csv.buffer as ArrayBuffer];
  } catch (error) {
    reply = {
      id,
      error: {
        code: error instanceof ExportBuildError ? error.code : null,
        message: error instanceof Error ? error.message : 'decryption failed',
      },
    };
  }
  parentPort!.postMessage(reply, transfer);
});
