import { Module } from '@nestjs/common';
import { DistributionRepository } from './distribution.repository';

/** Cards of an issued order handed to employees by e-mail, SMS, claim link or straight into an account. */
@Module({
  providers: [DistributionRepository],
})
export class DistributionModule {}
