import { Injectable } from '@nestjs/common';

/** Told after the change has committed; must not throw (the change stands either way). */
export type EnterpriseStatusListener = (enterpriseId: string) => void;

/**
 * Who must hear that an enterprise's status changed (auth drops the tenant's cached clients), registered at init by
 * the modules that care, so that enterprises depends on none of them: auth → enterprises (docs/architecture.md).
 */
@Injectable()
export class EnterpriseStatusHooks {
  private readonly listeners: EnterpriseStatusListener[] = [];

  onStatusChanged(listener: EnterpriseStatusListener): void {
    this.listeners.push(listener);
  }

  statusChanged(enterpriseId: string): void {
    for (const listener of this.listeners) listener(enterpriseId);
  }
}
