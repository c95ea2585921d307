/**
 * What cards' SQL may read of issuance's tables (docs/architecture.md: one owner per table; issuance owns
 * issuance_batches): a card's enterprise, card type and product are its batch's. Composed into the cards
 * repository's statements, so reading a card stays one statement.
 */

/** Joins a card (alias `card`) to its batch (alias `batch`). */
export function batchOfCardJoin(card: string, batch: string): string {
  return `JOIN issuance_batches ${batch} ON ${batch}.id = ${card}.batch_id`;
}

/** The batch's facts, as enterprise_id, card_type and product_id. */
export function batchFactsColumns(batch: string): string {
  return `${batch}.enterprise_id, ${batch}.card_type, ${batch}.product_id`;
}

/** The same join for an UPDATE of cards (alias `card`): the FROM item and the condition for its WHERE. */
export function batchOfCardFrom(card: string, batch: string): { from: string; where: string } {
  return { from: `issuance_batches ${batch}`, where: `${batch}.id = ${card}.batch_id` };
}
