import { Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import type { StatementBalancesDto } from './dto/statement.dto';
import { xlsxStatement } from './statement-files';
import { STATEMENT_FILE_COLUMNS } from './statement.repository';

const TOTALS: StatementBalancesDto = {
  prepaid_balance: 12_345,
  credit_used: -50,
  held_for_orders: 0,
  card_float: 100_000,
};

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe('xlsxStatement', () => {
  it('wraps the database’s sheet rows between the header and the totals in a workbook Excel readers open', async () => {
    const rows = Readable.from([
      Buffer.from('<row r="2"><c r="A2" t="inlineStr"><is><t>福利 &amp; 2026</t></is></c></row>\n'),
      Buffer.from('<row r="3"><c r="A3" t="inlineStr"><is><t>second</t></is></c></row>\n'),
    ]);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load((await collect(xlsxStatement(rows, TOTALS))) as unknown as ArrayBuffer);
    const sheet = workbook.getWorksheet('statement')!;
    expect((sheet.getRow(1).values as unknown[]).slice(1)).toEqual([...STATEMENT_FILE_COLUMNS]);
    expect(sheet.getCell('A2').value).toBe('福利 & 2026');
    expect(sheet.getCell('A3').value).toBe('second');
    expect(sheet.getCell('A4').value).toBe('total');
    const cny = (column: string) => sheet.getCell(4, STATEMENT_FILE_COLUMNS.indexOf(column as never) + 1).value;
    expect([cny('prepaid_balance'), cny('credit_used'), cny('card_float')]).toEqual([123.45, -0.5, 1000]);
  });

  it('fails, rather than ends short, when the rows fail midway', async () => {
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from('<row r="2"></row>\n');
      throw new Error('COPY broke');
    }
    await expect(collect(xlsxStatement(Readable.from(broken()), TOTALS))).rejects.toThrow('COPY broke');
  });
});
