import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CatalogModule } from '../catalog/catalog.module';
import { EnterprisesModule } from '../enterprises/enterprises.module';
import { DemoSeedService } from './demo-seed.service';

@Module({
  imports: [AuthModule, EnterprisesModule, CatalogModule],
  providers: [DemoSeedService],
  exports: [DemoSeedService],
})
export class DemoModule {}
