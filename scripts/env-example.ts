import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEnvExample } from '../src/config/env-example';
import { repoRoot } from './paths';

/** Writes .env.example from AppConfig (see src/config/env-example.ts). */
const root = repoRoot();
const source = readFileSync(join(root, 'src', 'config', 'app-config.ts'), 'utf8');
writeFileSync(join(root, '.env.example'), renderEnvExample(source));
console.log('.env.example written');
