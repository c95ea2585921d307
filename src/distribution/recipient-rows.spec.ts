import {
  checkRecipientRow,
  checkRecipientRows,
  maskRealName,
  normaliseMainlandMobile,
  parseRealName,
  recordToInput,
  serialiseRealName,
  type RowErrorCode,
} from './recipient-rows';
import { serialFromSequence } from '../cards/card-code';

const SERIAL = serialFromSequence(1_000_123);
const RESIDENT_ID = '11010519491231002X';
const base = { employee_ref: 'E001', channel: 'email', email: 'li.lei@example.com', face_value: 10_000 };
const realName = { name: '张三', id_type: 'resident_id', id_number: RESIDENT_ID, mobile: '13812345678' };

describe('recipient rows', () => {
  it.each<[string, Record<string, unknown>, Array<[string, RowErrorCode]>]>([
    ['a complete e-mail row', base, []],
    ['no employee_ref', { ...base, employee_ref: undefined }, [['employee_ref', 'employee_ref_required']]],
    ['a blank employee_ref', { ...base, employee_ref: '  ' }, [['employee_ref', 'employee_ref_required']]],
    [
      'an employee_ref of 101 characters',
      { ...base, employee_ref: 'x'.repeat(101) },
      [['employee_ref', 'invalid_employee_ref']],
    ],
    ['an e-mail without a domain', { ...base, email: 'li.lei@' }, [['email', 'invalid_email']]],
    ['an e-mail with a space', { ...base, email: 'li lei@example.com' }, [['email', 'invalid_email']]],
    ['channel email without email', { ...base, email: '' }, [['email', 'email_required']]],
    ['an unknown channel', { ...base, channel: 'fax' }, [['channel', 'invalid_channel']]],
    ['no channel', { ...base, channel: undefined }, [['channel', 'invalid_channel']]],
    ['channel sms without mobile', { ...base, channel: 'sms' }, [['mobile', 'mobile_required']]],
    ['channel sms with a mobile', { ...base, channel: 'sms', mobile: '+86 138-1234-5678' }, []],
    ['a 10-digit mobile', { ...base, mobile: '1381234567' }, [['mobile', 'invalid_mobile']]],
    ['a mobile starting 12', { ...base, mobile: '12812345678' }, [['mobile', 'invalid_mobile']]],
    ['a Hong Kong number', { ...base, mobile: '+85291234567' }, [['mobile', 'invalid_mobile']]],
    ['channel link', { ...base, channel: 'link', email: undefined }, []],
    [
      'channel account without holder',
      { ...base, channel: 'account' },
      [
        ['holder_ref', 'holder_ref_required'],
        ['channel_client_id', 'holder_ref_required'],
      ],
    ],
    ['channel account', { ...base, channel: 'account', holder_ref: 'u-1', channel_client_id: 'cli_x' }, []],
    ['no card', { ...base, face_value: undefined }, [['face_value', 'card_required']]],
    ['face value and serial', { ...base, serial: SERIAL }, [['serial', 'face_value_or_serial']]],
    ['a serial', { ...base, face_value: undefined, serial: SERIAL }, []],
    [
      'a serial with a wrong check digit',
      { ...base, face_value: undefined, serial: `${SERIAL.slice(0, -1)}${(Number(SERIAL.slice(-1)) + 1) % 10}` },
      [['serial', 'invalid_serial']],
    ],
    ['a negative face value', { ...base, face_value: -100 }, [['face_value', 'invalid_face_value']]],
    ['a fractional face value', { ...base, face_value: 100.5 }, [['face_value', 'invalid_face_value']]],
    ['a face value as digits (a cell)', { ...base, face_value: '10000' }, []],
    ['a greeting of 100 characters', { ...base, greeting: '新'.repeat(100) }, []],
    ['a greeting of 101 characters', { ...base, greeting: '新'.repeat(101) }, [['greeting', 'greeting_too_long']]],
    ['locale en', { ...base, locale: 'en' }, []],
    ['locale fr', { ...base, locale: 'fr' }, [['locale', 'invalid_locale']]],
    ['an unknown field', { ...base, department: 'IT' }, [['department', 'unknown_field']]],
    ['a complete real name', { ...base, real_name: realName }, []],
    [
      'a resident id with a wrong check digit',
      { ...base, real_name: { ...realName, id_number: '110105194912310021' } },
      [['real_name.id_number', 'invalid_id_number']],
    ],
    [
      'a real name without mobile',
      { ...base, real_name: { ...realName, mobile: undefined } },
      [['real_name.mobile', 'invalid_mobile']],
    ],
    [
      'a real name with an unknown id type',
      { ...base, real_name: { ...realName, id_type: 'driver' } },
      [['real_name.id_type', 'invalid_real_name']],
    ],
    ['a passport', { ...base, real_name: { ...realName, id_type: 'passport', id_number: 'E12345678' } }, []],
  ])('%s', (_, input, expected) => {
    const checked = checkRecipientRow(input, 7);
    expect(checked.errors.map((error) => [error.field, error.code])).toEqual(expected);
    for (const error of checked.errors) expect(error.row).toBe(7);
    expect(checked.row === null).toBe(expected.length > 0);
  });

  it('normalises what it accepts', () => {
    const { row } = checkRecipientRow(
      {
        ...base,
        employee_ref: ' E001 ',
        mobile: '86 13812345678',
        real_name: { ...realName, id_number: '110105-19491231-002x', mobile: '+8613912345678' },
      },
      1,
    );
    expect(row).toMatchObject({
      rowNumber: 1,
      employeeRef: 'E001',
      mobile: '+8613812345678',
      locale: 'zh-CN',
      faceValue: 10_000,
      serial: null,
      realName: { name: '张三', id_type: 'resident_id', id_number: RESIDENT_ID, mobile: '+8613912345678' },
    });
  });

  it.each([
    ['13812345678', '+8613812345678'],
    ['+8613812345678', '+8613812345678'],
    ['8613812345678', '+8613812345678'],
    ['138 1234 5678', '+8613812345678'],
    ['19912345678', '+8619912345678'],
    ['11812345678', null],
    ['+1 415 555 0100', null],
  ])('mobile %s → %s', (input, expected) => {
    expect(normaliseMainlandMobile(input)).toBe(expected);
  });

  it('reports a second row of the same employee, and every bad row with its number', () => {
    const { rows, errors } = checkRecipientRows([
      base,
      { ...base, email: 'nope' },
      { ...base, employee_ref: 'E002', channel: 'sms' },
      base,
      { ...base, employee_ref: 'E003', face_value: undefined, serial: SERIAL },
      { ...base, employee_ref: 'E004', face_value: undefined, serial: SERIAL },
    ]);
    expect(rows.map((row) => row.rowNumber)).toEqual([1, 5]);
    expect(errors.map(({ row, field, code }) => [row, field, code])).toEqual([
      [2, 'email', 'invalid_email'],
      [2, 'employee_ref', 'duplicate_recipient'],
      [3, 'mobile', 'mobile_required'],
      [4, 'employee_ref', 'duplicate_recipient'],
      [6, 'serial', 'duplicate_serial'],
    ]);
  });

  it('reads a file record with real_name.* columns as the nested object', () => {
    expect(
      recordToInput({ employee_ref: 'E1', 'real_name.name': '张三', 'real_name.id_type': 'resident_id', greeting: '' }),
    ).toEqual({ employee_ref: 'E1', greeting: '', real_name: { name: '张三', id_type: 'resident_id' } });
    expect(recordToInput({ employee_ref: 'E1', 'real_name.name': '' })).toEqual({ employee_ref: 'E1' });
  });

  it('seals exactly the four fields and masks them', () => {
    const value = {
      name: '欧阳娜娜',
      id_type: 'resident_id' as const,
      id_number: RESIDENT_ID,
      mobile: '+8613812345678',
    };
    expect(parseRealName(serialiseRealName(value))).toEqual(value);
    expect(() => parseRealName('{"name":"x"}')).toThrow(TypeError);
    expect(maskRealName(value)).toEqual({
      name: '欧***',
      id_type: 'resident_id',
      id_number: '110***********002X',
      mobile: '+86 138****5678',
    });
  });
});
