import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DataSourceOptions } from 'typeorm';
import { dataSourceOptions } from './data-source-options';
import { TransactionService } from './transaction.service';
import { TransactionalConnection } from './transactional-connection';

@Global()
@Module({})
export class DatabaseModule {
  /** `entities`: the app's entity list, assembled at the composition root (src/entities.ts). */
  static forRoot(url: string, entities: NonNullable<DataSourceOptions['entities']>): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [TypeOrmModule.forRoot({ ...dataSourceOptions(url, 20, entities), retryAttempts: 3, retryDelay: 1000 })],
      providers: [TransactionService, TransactionalConnection],
      exports: [TransactionService, TransactionalConnection],
    };
  }
}
