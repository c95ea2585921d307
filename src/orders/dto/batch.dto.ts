import { ApiProperty } from '@nestjs/swagger';

/** What a batch's progress is read from (issuance's IssuanceBatch has these fields). */
export interface BatchProgress {
  id: string;
  orderId: string;
  lineNo: number;
  status: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  count: number;
  issuedCount: number;
  faceValue: number;
  failureReason: string | null;
  startedAt: Date | null;
  completedAt: Date | null;
  createdAt: Date;
}

/**
 * Issuance progress of one order line. Declared here, beside the order it is shown in, so that orders need not
 * import issuance (issuance depends on orders, never the reverse); issuance fills it in.
 */
export class BatchDto {
  @ApiProperty({ enum: ['batch'] }) object: 'batch';
  @ApiProperty({ example: 'bat_01JDQ6ZK6Y8V3N2M4T5R7W9XAB' }) id: string;
  @ApiProperty() order_id: string;
  @ApiProperty() line_no: number;
  @ApiProperty({ enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] }) status: BatchProgress['status'];
  @ApiProperty({ description: 'Cards in the batch' }) count: number;
  @ApiProperty({ description: 'Cards minted so far' }) issued_count: number;
  @ApiProperty({ description: 'fen per card' }) face_value: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Cards per second since the batch started' })
  rate: number | null;
  @ApiProperty({ type: Number, nullable: true, description: 'Seconds to completion at the current rate' })
  eta_seconds: number | null;
  @ApiProperty({ type: String, nullable: true }) failure_reason: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) started_at: string | null;
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) completed_at: string | null;
  @ApiProperty({ format: 'date-time', description: 'When the batch was planned: when its order was paid' })
  created_at: string;

  static from(batch: BatchProgress, now = Date.now()): BatchDto {
    const end = batch.completedAt?.getTime() ?? now;
    const elapsed = batch.startedAt ? (end - batch.startedAt.getTime()) / 1000 : 0;
    const rate = elapsed > 0 && batch.issuedCount > 0 ? Math.round(batch.issuedCount / elapsed) : null;
    const remaining = batch.count - batch.issuedCount;
    return {
      object: 'batch',
      id: batch.id,
      order_id: batch.orderId,
      line_no: batch.lineNo,
      status: batch.status,
      count: batch.count,
      issued_count: batch.issuedCount,
      face_value: batch.faceValue,
      rate,
      eta_seconds: remaining === 0 ? 0 : rate ? Math.ceil(remaining / rate) : null,
      failure_reason: batch.failureReason,
      started_at: batch.startedAt?.toISOString() ?? null,
      completed_at: batch.completedAt?.toISOString() ?? null,
      created_at: batch.createdAt.toISOString(),
    };
  }
}
