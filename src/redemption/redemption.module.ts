import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { CryptoModule } from '../common/crypto/crypto.module';
import { CardsModule } from '../cards/cards.module';
import { OrdersModule } from '../orders/orders.module';
import { RiskModule } from '../risk/risk.module';
import { AttemptLimiter } from './attempt-limiter';
import { CardPaymentCodes } from './card-payment-codes';
import { PaymentCodeKeys } from './payment-code-keys';
import { RedemptionController } from './redemption.controller';
import { RedemptionRepository } from './redemption.repository';
import { RedemptionService } from './redemption.service';

/** The redemption channel: verify, bind, debit, reverse (README, redemption). */
@Module({
  imports: [CardsModule, OrdersModule, AuditModule, CryptoModule, RiskModule],
  controllers: [RedemptionController],
  providers: [RedemptionService, AttemptLimiter, RedemptionRepository, PaymentCodeKeys, CardPaymentCodes],
  // Key rotation walks payment_code_keys.secret_sealed through its owner; the claim page shows a bound card's code.
  exports: [RedemptionRepository, CardPaymentCodes],
})
export class RedemptionModule {}
