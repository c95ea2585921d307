import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import { idPattern } from '../../common/ids';
import { ListQueryDto } from '../../common/pagination/pagination';
import { INVOICE_TYPES, type InvoiceType } from '../invoice-policy';
import type { Invoice, InvoiceKind, InvoiceReason } from '../invoice.entity';

export const MAX_ORDERS_PER_INVOICE = 100;

export class CreateInvoiceDto {
  @ApiProperty({ type: [String], description: 'Paid orders, each not invoiced yet (up to 100)' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_ORDERS_PER_INVOICE)
  @Matches(idPattern('order'), { each: true, message: 'order_ids must be order ids' })
  order_ids: string[];

  @ApiPropertyOptional({ enum: INVOICE_TYPES, description: 'Only `ordinary` (422 special_invoice_not_allowed)' })
  @IsOptional()
  @IsIn(INVOICE_TYPES)
  invoice_type?: InvoiceType;
}

export class ListInvoicesQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ enum: ['blue', 'red'], description: 'blue: invoices; red: red-letter invoices (红字发票)' })
  @IsOptional()
  @IsIn(['blue', 'red'])
  kind?: InvoiceKind;

  @ApiPropertyOptional({ description: 'Invoices that have a line for this order' })
  @IsOptional()
  @Matches(idPattern('order'), { message: 'order_id must be an order id' })
  order_id?: string;
}

export class AdminListInvoicesQueryDto extends ListInvoicesQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @Matches(idPattern('enterprise'), { message: 'enterprise_id must be an enterprise id' })
  enterprise_id?: string;
}

export class VoidInvoiceDto {
  @ApiProperty({ description: 'Why the invoice was issued in error (audited, printed on the red-letter invoice)' })
  @IsString()
  @Length(1, 500)
  reason: string;
}

export class InvoicePartyDto {
  @ApiProperty({ description: 'Name (抬头)' }) title: string;
  @ApiProperty() taxpayer_id: string;
  @ApiProperty({ type: String, nullable: true }) address: string | null;
  @ApiProperty({ type: String, nullable: true }) phone: string | null;
  @ApiProperty({ type: String, nullable: true }) bank: string | null;
  @ApiProperty({ type: String, nullable: true }) account: string | null;
}

export class InvoiceLineDto {
  @ApiProperty() order_id: string;
  @ApiProperty() po_number: string;
  @ApiProperty({ example: '*未发生销售行为的不征税项目*预付卡销售和充值' }) item: string;
  @ApiProperty({ example: '6010000000000000000' }) tax_classification_code: string;
  @ApiProperty({ description: 'Face value of the cards, fen (negative on a red-letter invoice)' }) face_value: number;
  @ApiProperty({ description: 'Discount, fen' }) discount: number;
  @ApiProperty({ description: 'Invoiced: what was paid, face_value − discount, fen' }) amount: number;
  @ApiProperty({ example: '不征税' }) tax_rate: string;
  @ApiProperty({ example: 0 }) tax: number;
}

export class InvoiceDocumentsDto {
  @ApiProperty({ enum: ['pending', 'rendered'] }) status: 'pending' | 'rendered';
  @ApiProperty({ type: String, nullable: true }) pdf_sha256: string | null;
  @ApiProperty({ type: String, nullable: true }) xml_sha256: string | null;
  @ApiProperty({ type: String, nullable: true }) json_sha256: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) rendered_at: string | null;
}

export class InvoiceDto {
  @ApiProperty({ enum: ['invoice'] }) object: 'invoice';
  @ApiProperty({ example: 'inv_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' }) id: string;
  @ApiProperty({ description: '20 digits, gapless per year and issuer', example: '26310000000000000001' })
  number: string;
  @ApiProperty() enterprise_id: string;
  @ApiProperty({
    enum: ['blue', 'red'],
    description: 'red: a red-letter invoice (红字发票) crediting `original_invoice_id`',
  })
  kind: InvoiceKind;
  @ApiProperty({ enum: ['ordinary'] }) invoice_type: 'ordinary';
  @ApiProperty({
    enum: ['per_order', 'monthly', 'on_request', 'order_cancelled', 'cards_voided', 'card_refunded', 'issued_in_error'],
  })
  reason: InvoiceReason;
  @ApiProperty({ type: String, nullable: true }) original_invoice_id: string | null;
  @ApiProperty({ type: [String], description: 'The red-letter invoices crediting this one, oldest first' })
  credit_note_ids: string[];
  @ApiProperty({ type: String, nullable: true, description: 'YYYY-MM of a monthly invoice' }) period: string | null;
  @ApiProperty({ description: 'fen' }) face_value: number;
  @ApiProperty({ description: 'fen' }) discount: number;
  @ApiProperty({ description: '价税合计, fen (negative on a red-letter invoice)' }) amount: number;
  @ApiProperty({ example: 0 }) tax: number;
  @ApiProperty({
    description: 'amount plus every red-letter amount crediting it, fen (a red-letter invoice: its amount)',
  })
  net_amount: number;
  @ApiProperty({ example: '壹拾万元整' }) amount_in_words: string;
  @ApiProperty({ enum: ['CNY'] }) currency: 'CNY';
  @ApiProperty({ type: InvoicePartyDto }) buyer: InvoicePartyDto;
  @ApiProperty({ type: InvoicePartyDto }) seller: InvoicePartyDto;
  @ApiProperty({ type: [InvoiceLineDto] }) lines: InvoiceLineDto[];
  @ApiProperty({ type: String, nullable: true }) note: string | null;
  @ApiProperty({ format: 'date-time' }) issued_at: string;
  @ApiProperty({ type: InvoiceDocumentsDto }) documents: InvoiceDocumentsDto;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) emailed_at: string | null;

  static from(invoice: Invoice, credits: readonly Invoice[]): InvoiceDto {
    const own = credits.filter((credit) => credit.originalInvoiceId === invoice.id);
    return {
      object: 'invoice',
      id: invoice.id,
      number: invoice.number,
      enterprise_id: invoice.enterpriseId,
      kind: invoice.kind,
      invoice_type: 'ordinary',
      reason: invoice.reason,
      original_invoice_id: invoice.originalInvoiceId,
      credit_note_ids: own.map((credit) => credit.id),
      period: invoice.period,
      face_value: invoice.faceValue,
      discount: invoice.discount,
      amount: invoice.amount,
      tax: 0,
      net_amount: invoice.amount + own.reduce((sum, credit) => sum + credit.amount, 0),
      amount_in_words: invoice.amountInWords,
      currency: 'CNY',
      buyer: invoice.buyer,
      seller: {
        title: invoice.seller.name,
        taxpayer_id: invoice.seller.taxpayer_id,
        address: invoice.seller.address,
        phone: invoice.seller.phone,
        bank: invoice.seller.bank,
        account: invoice.seller.account,
      },
      lines: invoice.lines.map((line) => ({
        order_id: line.orderId,
        po_number: line.poNumber,
        item: line.item,
        tax_classification_code: line.taxClassificationCode,
        face_value: line.faceValue,
        discount: line.discount,
        amount: line.amount,
        tax_rate: line.taxRate,
        tax: line.tax,
      })),
      note: invoice.note,
      issued_at: invoice.issuedAt.toISOString(),
      documents: {
        status: invoice.renderStatus,
        pdf_sha256: invoice.pdfSha256,
        xml_sha256: invoice.xmlSha256,
        json_sha256: invoice.jsonSha256,
        rendered_at: invoice.renderedAt?.toISOString() ?? null,
      },
      emailed_at: invoice.emailedAt?.toISOString() ?? null,
    };
  }
}
