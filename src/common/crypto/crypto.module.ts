import { Module } from '@nestjs/common';
import { DataCipher } from './data-cipher.service';

@Module({ providers: [DataCipher], exports: [DataCipher] })
export class CryptoModule {}
