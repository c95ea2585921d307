import { newId } from '../common/ids';
import { orderSecretsCopySql } from './cards.repository';

describe('orderSecretsCopySql', () => {
  it('selects the four columns of one order in serial order', () => {
    const id = newId('order');
    expect(orderSecretsCopySql(id)).toBe(
      `COPY (SELECT serial, secret_ciphertext, face_value, expires_at FROM cards WHERE order_id = '${id}' ORDER BY serial) TO STDOUT`,
    );
  });

  it('takes nothing but an order id into its literal', () => {
    expect(() => orderSecretsCopySql("ord_x' OR 1=1 --")).toThrow('not an order id');
    expect(() => orderSecretsCopySql(newId('export'))).toThrow('not an order id');
  });
});
