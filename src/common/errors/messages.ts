/**
 * The message catalog of every error code the API answers (problem `code`, and `errors[].code` of a 400): a text in
 * English and in Simplified Chinese, chosen by the request's `Accept-Language` (English by default). `code` itself
 * is never translated.
 *
 * Templates: `{name}` is a value of the error (an id, a count, a limit); `[…]` is a part shown only when every value
 * it names is known, so one template serves every call site of a code. Values come from the error's extension
 * members (`order_id`, `serial`, `retry_after`, …) and from what the helpers of ApiError add (`object`, `id` of a
 * 404, `count` of a 400, a field's `field`, `min`, `max`).
 *
 * English: an ApiError's own detail (written at the call site, with its context) is the English detail; these
 * English texts are used where an error brings none (framework errors, field errors in Chinese requests' English
 * twin) and say what the code means for translators. A new code is a compile error until it is added here
 * (`ErrorCode` is what ApiError accepts).
 */
export const ERROR_MESSAGES = {
  already_claimed: {
    en: 'This card has already been claimed',
    'zh-CN': '该卡已被领取',
  },
  already_invoiced: {
    en: "The order is already invoiced[: order '{order_id}']",
    'zh-CN': "该订单已开具发票[：订单 '{order_id}']",
  },
  amount_required: {
    en: 'The amount is required (amount_fen or amount_cny)',
    'zh-CN': '金额必填（amount_fen 或 amount_cny）',
  },
  anonymous_card_not_refundable: {
    en: 'An anonymous card cannot be refunded[: card {serial}]',
    'zh-CN': '不记名卡不可退款[：卡号 {serial}]',
  },
  anonymous_card_not_reportable: {
    en: 'An anonymous card cannot be reported lost[: card {serial}]',
    'zh-CN': '不记名卡不可挂失[：卡号 {serial}]',
  },
  awaiting_bank_transfer: {
    en: 'The order awaits its bank transfer',
    'zh-CN': '该订单正在等待银行转账',
  },
  bad_request: {
    en: 'The request is invalid',
    'zh-CN': '请求无效',
  },
  bank_transfer_required: {
    en: 'This order must be paid by bank transfer',
    'zh-CN': '该订单须通过银行转账支付',
  },
  bind_not_available: {
    en: 'This card cannot be added to an account',
    'zh-CN': '该卡无法绑定到账户',
  },
  card_already_bound: {
    en: 'The card is already bound to a holder[: card {serial}]',
    'zh-CN': '该卡已绑定持卡人[：卡号 {serial}]',
  },
  card_assignment_conflict: {
    en: 'A card was assigned to another recipient meanwhile; try again',
    'zh-CN': '有卡已同时分配给其他领取人，请重试',
  },
  card_expired: {
    en: 'The card has expired[: card {serial}]',
    'zh-CN': '该卡已过期[：卡号 {serial}]',
  },
  card_frozen: {
    en: 'The card is frozen[: card {serial}]',
    'zh-CN': '该卡已冻结[：卡号 {serial}]',
  },
  card_has_no_value: {
    en: 'The card has no balance left[: card {serial}]',
    'zh-CN': '该卡余额为零[：卡号 {serial}]',
  },
  card_holder_mismatch: {
    en: 'The card belongs to another holder',
    'zh-CN': '该卡属于其他持卡人',
  },
  card_limit_exceeded: {
    en: 'The order exceeds the number of cards allowed',
    'zh-CN': '订单超出允许的卡片数量',
  },
  card_lost: {
    en: 'The card has been reported lost[: card {serial}]',
    'zh-CN': '该卡已挂失[：卡号 {serial}]',
  },
  card_not_bound: {
    en: 'The card is not in an account yet: add it to one to pay with a payment code[: card {serial}]',
    'zh-CN': '该卡尚未添加到账户，添加后才能使用付款码[：卡号 {serial}]',
  },
  card_not_found: {
    en: "No such card[: serial '{serial}']",
    'zh-CN': "未找到该卡[：卡号 '{serial}']",
  },
  card_not_reversible: {
    en: 'This debit cannot be reversed',
    'zh-CN': '该笔扣款无法冲正',
  },
  card_not_unused: {
    en: 'The card has been used and cannot be changed this way[: card {serial}]',
    'zh-CN': '该卡已使用，无法执行此操作[：卡号 {serial}]',
  },
  card_refunded: {
    en: 'The card has been refunded[: card {serial}]',
    'zh-CN': '该卡已退款[：卡号 {serial}]',
  },
  card_replaced: {
    en: 'The card has been replaced by another card[: card {serial}]',
    'zh-CN': '该卡已被换卡[：卡号 {serial}]',
  },
  card_required: {
    en: '[Row {row}: ][{field}: ]name a face value or a serial',
    'zh-CN': '[第 {row} 行：][{field}：]请指定面值或卡号',
  },
  card_secrets_purged: {
    en: "The order's anonymous card codes were purged: they cannot be exported again[: order '{order_id}']",
    'zh-CN': "该订单不记名卡的卡密已清除，无法再次导出[：订单 '{order_id}']",
  },
  card_unavailable: {
    en: 'The card can no longer be used',
    'zh-CN': '该卡已无法使用',
  },
  card_voided: {
    en: 'The card has been voided[: card {serial}]',
    'zh-CN': '该卡已作废[：卡号 {serial}]',
  },
  claim_bind_url_not_allowed: {
    en: 'claim_bind_url is allowed only for a redemption channel client',
    'zh-CN': '仅核销渠道客户端可设置 claim_bind_url',
  },
  claim_link_expired: {
    en: 'This claim link has expired',
    'zh-CN': '该领取链接已过期',
  },
  claim_link_not_found: {
    en: 'No claim link with this token',
    'zh-CN': '不存在该领取链接',
  },
  claim_link_revoked: {
    en: 'This claim link was revoked',
    'zh-CN': '该领取链接已被撤销',
  },
  claim_ticket_expired: {
    en: 'This ticket has expired',
    'zh-CN': '该凭证已过期',
  },
  claim_ticket_not_found: {
    en: 'No claim ticket with this value for this channel',
    'zh-CN': '该渠道不存在此领取凭证',
  },
  claim_ticket_used: {
    en: 'This ticket was used already',
    'zh-CN': '该凭证已被使用',
  },
  client_required: {
    en: 'This call needs an API client',
    'zh-CN': '此调用需要 API 客户端',
  },
  client_revoked: {
    en: 'The API client is revoked',
    'zh-CN': '该 API 客户端已被吊销',
  },
  code_unavailable: {
    en: "The card's code is no longer kept and cannot be shown",
    'zh-CN': '该卡卡密已不再保存，无法显示',
  },
  conflict: {
    en: 'The request conflicts with the current state',
    'zh-CN': '请求与当前状态冲突',
  },
  contact_required: {
    en: '[{field}: ]give an email, a mobile or a channel',
    'zh-CN': '[{field}：]请提供电子邮件、手机号或渠道',
  },
  corporate_payer_required: {
    en: "The payment must come from the enterprise's own account",
    'zh-CN': '付款必须来自企业自身账户',
  },
  credit_limit_exceeded: {
    en: "The order exceeds the enterprise's credit limit",
    'zh-CN': '订单超出企业信用额度',
  },
  cross_origin_request: {
    en: 'Cross-origin requests are refused here',
    'zh-CN': '此处拒绝跨域请求',
  },
  date_required: {
    en: 'The date is required',
    'zh-CN': '日期必填',
  },
  design_not_offered: {
    en: 'The product does not offer this design',
    'zh-CN': '该产品不提供此卡面设计',
  },
  distribution_started: {
    en: 'The distribution has started sending and cannot be changed this way',
    'zh-CN': '该发放已开始发送，无法执行此操作',
  },
  download_token_required: {
    en: 'Send the download token in the X-Download-Token header (or open the link, which carries it)',
    'zh-CN': '请在 X-Download-Token 请求头中发送下载令牌（或打开带有令牌的链接）',
  },
  duplicate_recipient: {
    en: '[Row {row}: ][{field}: ]this recipient is listed twice',
    'zh-CN': '[第 {row} 行：][{field}：]该领取人重复',
  },
  duplicate_serial: {
    en: '[Row {row}: ][{field}: ]this serial is listed twice',
    'zh-CN': '[第 {row} 行：][{field}：]该卡号重复',
  },
  email_required: {
    en: '[Row {row}: ][{field}: ]an e-mail address is required for this channel',
    'zh-CN': '[第 {row} 行：][{field}：]该渠道需要电子邮件地址',
  },
  employee_ref_required: {
    en: '[Row {row}: ][{field}: ]employee_ref is required',
    'zh-CN': '[第 {row} 行：][{field}：]必须提供 employee_ref',
  },
  enterprise_client_required: {
    en: 'This call needs an enterprise client',
    'zh-CN': '此调用需要企业客户端',
  },
  enterprise_exists: {
    en: 'An enterprise with this credit code exists already',
    'zh-CN': '已存在该统一社会信用代码的企业',
  },
  enterprise_not_found: {
    en: "No such enterprise[: '{enterprise_id}']",
    'zh-CN': "未找到该企业[：'{enterprise_id}']",
  },
  enterprise_suspended: {
    en: 'The enterprise is suspended: writes are refused',
    'zh-CN': '该企业已被暂停，拒绝写入操作',
  },
  error: {
    en: 'An error occurred',
    'zh-CN': '发生错误',
  },
  export_in_progress: {
    en: "Another export of this order is being built; wait for it to be ready[: export '{export_id}']",
    'zh-CN': "该订单的另一个导出正在生成，请等待其完成[：导出 '{export_id}']",
  },
  export_key_exists: {
    en: 'This key is registered already',
    'zh-CN': '该密钥已注册',
  },
  export_key_not_confirmed: {
    en: 'The export key is not confirmed yet',
    'zh-CN': '该导出密钥尚未确认',
  },
  export_key_not_found: {
    en: 'No export key with this id in your enterprise',
    'zh-CN': '您的企业中不存在该导出密钥',
  },
  export_key_required: {
    en: 'Name a registered, confirmed key in export_key_id',
    'zh-CN': '请在 export_key_id 中指定已注册并已确认的密钥',
  },
  export_key_revoked: {
    en: 'The export key was revoked',
    'zh-CN': '该导出密钥已被撤销',
  },
  export_link_expired: {
    en: 'This download link has expired or the file is gone; GET the export again',
    'zh-CN': '该下载链接已过期或文件已删除，请重新获取导出',
  },
  export_link_used: {
    en: 'This download link was used already; request a new export',
    'zh-CN': '该下载链接已使用，请重新申请导出',
  },
  face_value_not_in_order: {
    en: '[Row {row}: ][{field}: ]the order has no card of this face value',
    'zh-CN': '[第 {row} 行：][{field}：]订单中没有该面值的卡',
  },
  face_value_not_offered: {
    en: 'The product does not offer this face value',
    'zh-CN': '该产品不提供此面值',
  },
  face_value_or_serial: {
    en: '[Row {row}: ][{field}: ]give a face value or a serial, not both',
    'zh-CN': '[第 {row} 行：][{field}：]面值与卡号只能提供其一',
  },
  file_already_used: {
    en: 'This file was distributed already',
    'zh-CN': '该文件已用于发放',
  },
  file_empty: {
    en: 'The file has no data rows',
    'zh-CN': '该文件没有数据行',
  },
  file_expired: {
    en: 'This file has expired; upload it again',
    'zh-CN': '该文件已过期，请重新上传',
  },
  file_has_errors: {
    en: 'The file has errors; fix them and upload it again',
    'zh-CN': '该文件存在错误，请修正后重新上传',
  },
  file_too_large: {
    en: 'The file is too large',
    'zh-CN': '文件过大',
  },
  file_unreadable: {
    en: 'The file cannot be read as CSV or XLSX',
    'zh-CN': '无法以 CSV 或 XLSX 格式读取该文件',
  },
  fingerprint_mismatch: {
    en: 'The fingerprint does not match the key',
    'zh-CN': '指纹与密钥不匹配',
  },
  forbidden: {
    en: 'This call is not allowed',
    'zh-CN': '不允许此调用',
  },
  forbidden_property: {
    en: 'The body carries a forbidden property (__proto__ or constructor.prototype)',
    'zh-CN': '请求体包含禁止的属性（__proto__ 或 constructor.prototype）',
  },
  gone: {
    en: 'This is no longer available',
    'zh-CN': '该资源已不可用',
  },
  greeting_not_allowed: {
    en: 'The product does not allow greetings',
    'zh-CN': '该产品不允许附加祝福语',
  },
  greeting_too_long: {
    en: '[Row {row}: ][{field}: ]the greeting is too long[ (at most {max} characters)]',
    'zh-CN': '[第 {row} 行：][{field}：]祝福语过长[（最多 {max} 个字符）]',
  },
  holder_has_no_cards: {
    en: 'The holder has no usable cards',
    'zh-CN': '该持卡人没有可用的卡',
  },
  holder_identity_mismatch: {
    en: "The holder's identity does not match",
    'zh-CN': '持卡人身份不匹配',
  },
  holder_identity_required: {
    en: "The holder's identity is required",
    'zh-CN': '需要提供持卡人身份',
  },
  holder_ref_required: {
    en: '[Row {row}: ][{field}: ]holder_ref is required for the account channel',
    'zh-CN': '[第 {row} 行：][{field}：]账户渠道需要 holder_ref',
  },
  idempotency_key_in_use: {
    en: 'A request with this Idempotency-Key is still in progress',
    'zh-CN': '使用该 Idempotency-Key 的请求仍在处理中',
  },
  idempotency_key_reused: {
    en: 'This Idempotency-Key was used with another request body',
    'zh-CN': '该 Idempotency-Key 已用于不同的请求体',
  },
  insufficient_balance: {
    en: "The card's balance is insufficient[: card {serial}]",
    'zh-CN': '卡内余额不足[：卡号 {serial}]',
  },
  insufficient_cards: {
    en: 'Not enough free cards for these recipients',
    'zh-CN': '可分配的卡不足',
  },
  insufficient_prepaid_balance: {
    en: 'The prepaid balance is insufficient',
    'zh-CN': '预付余额不足',
  },
  insufficient_scope: {
    en: 'This call needs a scope the token does not carry',
    'zh-CN': '此调用需要令牌不具备的权限范围（scope）',
  },
  internal_error: {
    en: 'An internal error occurred',
    'zh-CN': '发生内部错误',
  },
  invalid_amount: {
    en: '[{field}: ]must be a whole number of fen[ from {min} to {max}]',
    'zh-CN': '[{field}：]必须是以分为单位的整数[，范围 {min} 至 {max}]',
  },
  invalid_card_code: {
    en: 'The card code is not valid',
    'zh-CN': '卡密无效',
  },
  invalid_card_credentials: {
    en: 'The card number or PIN is wrong',
    'zh-CN': '卡号或 PIN 错误',
  },
  invalid_card_state: {
    en: 'The card is not in a state that allows this[: card {serial}, status {card_status}]',
    'zh-CN': '该卡当前状态不允许此操作[：卡号 {serial}，状态 {card_status}]',
  },
  invalid_channel: {
    en: '[Row {row}: ][{field}: ]the channel is not valid',
    'zh-CN': '[第 {row} 行：][{field}：]渠道无效',
  },
  invalid_client: {
    en: 'Client authentication failed',
    'zh-CN': '客户端认证失败',
  },
  invalid_credit_code: {
    en: 'The unified social credit code is not valid',
    'zh-CN': '统一社会信用代码无效',
  },
  invalid_cursor: {
    en: 'The cursor is not a next_cursor of this list',
    'zh-CN': '游标无效：须为本列表返回的 next_cursor',
  },
  invalid_date: {
    en: 'The date is invalid: a day (YYYY-MM-DD, Asia/Shanghai) or an instant with its offset',
    'zh-CN': '日期无效：应为日期（YYYY-MM-DD，北京时间）或带时区偏移的时刻',
  },
  invalid_email: {
    en: '[Row {row}: ][{field}: ]the e-mail address is not valid',
    'zh-CN': '[第 {row} 行：][{field}：]电子邮件地址无效',
  },
  invalid_employee_ref: {
    en: '[Row {row}: ][{field}: ]employee_ref is not valid',
    'zh-CN': '[第 {row} 行：][{field}：]employee_ref 无效',
  },
  invalid_event_types: {
    en: 'The event types are not valid',
    'zh-CN': '事件类型无效',
  },
  invalid_face_value: {
    en: '[Row {row}: ][{field}: ]the face value is not valid',
    'zh-CN': '[第 {row} 行：][{field}：]面值无效',
  },
  invalid_id_number: {
    en: '[Row {row}: ][{field}: ]the id number is not valid',
    'zh-CN': '[第 {row} 行：][{field}：]证件号码无效',
  },
  invalid_idempotency_key: {
    en: 'The Idempotency-Key must be 1 to 255 visible ASCII characters',
    'zh-CN': 'Idempotency-Key 必须为 1 至 255 个可见 ASCII 字符',
  },
  invalid_invoice_number: {
    en: 'The invoice number is invalid',
    'zh-CN': '发票号码无效',
  },
  invalid_locale: {
    en: '[Row {row}: ][{field}: ]the locale is not valid',
    'zh-CN': '[第 {row} 行：][{field}：]语言无效',
  },
  invalid_mobile: {
    en: '[Row {row}: ][{field}: ]the mobile number is not valid',
    'zh-CN': '[第 {row} 行：][{field}：]手机号无效',
  },
  invalid_name: {
    en: '[Row {row}: ][{field}: ]the name is not valid',
    'zh-CN': '[第 {row} 行：][{field}：]姓名无效',
  },
  invalid_order_id: {
    en: 'The order id is invalid',
    'zh-CN': '订单号无效',
  },
  invalid_period: {
    en: 'The period ends before it starts',
    'zh-CN': '期间的结束早于开始',
  },
  invalid_po_number: {
    en: 'The PO number is invalid',
    'zh-CN': '采购单号无效',
  },
  invalid_quantity: {
    en: '[{field}: ]must be a whole number[ from 1 to {max}]',
    'zh-CN': '[{field}：]必须是整数[，范围 1 至 {max}]',
  },
  invalid_real_name: {
    en: '[Row {row}: ][{field}: ]the real name is not valid',
    'zh-CN': '[第 {row} 行：][{field}：]实名信息无效',
  },
  invalid_recipient_key: {
    en: 'The key is not a usable OpenPGP public key',
    'zh-CN': '该密钥不是可用的 OpenPGP 公钥',
  },
  invalid_recipients: {
    en: 'Recipient rows are invalid; nothing was reserved',
    'zh-CN': '领取人数据有误，未预留任何卡',
  },
  invalid_request: {
    en: 'The token request is malformed',
    'zh-CN': '令牌请求格式错误',
  },
  invalid_rows: {
    en: 'Rows of the upload are invalid; nothing was stored[ ({error_count} errors)]',
    'zh-CN': '上传的行有错误，未保存任何内容[（{error_count} 处错误）]',
  },
  invalid_scope: {
    en: 'A requested scope is not granted to this client',
    'zh-CN': '请求的权限范围未授予该客户端',
  },
  invalid_serial: {
    en: '[Row {row}: ][{field}: ]the serial is not valid',
    'zh-CN': '[第 {row} 行：][{field}：]卡号无效',
  },
  invalid_state: {
    en: "The object's current status does not allow this[: order '{order_id}' is {order_status}]",
    'zh-CN': "对象当前状态不允许此操作[：订单 '{order_id}' 的状态为 {order_status}]",
  },
  invalid_taxpayer_id: {
    en: 'The taxpayer id is not valid',
    'zh-CN': '纳税人识别号无效',
  },
  invalid_token: {
    en: 'The access token is not valid',
    'zh-CN': '访问令牌无效',
  },
  invalid_value: {
    en: '[{field}: ]the value is not valid',
    'zh-CN': '[{field}：]值无效',
  },
  invalid_webhook_url: {
    en: 'The webhook url is not valid',
    'zh-CN': 'Webhook URL 无效',
  },
  invoice_already_credited: {
    en: 'The invoice has been credited already',
    'zh-CN': '该发票已开具红字发票',
  },
  invoice_not_rendered: {
    en: "The documents of this invoice are being rendered: retry shortly[: invoice '{invoice_id}']",
    'zh-CN': "该发票的文件正在生成，请稍后重试[：发票 '{invoice_id}']",
  },
  invoice_profile_required: {
    en: 'Set the invoice profile first',
    'zh-CN': '请先设置开票信息',
  },
  malformed_json: {
    en: 'The request body is not valid JSON',
    'zh-CN': '请求体不是有效的 JSON',
  },
  malformed_url: {
    en: 'The URL is not valid percent-encoded UTF-8',
    'zh-CN': 'URL 不是有效的百分号编码 UTF-8',
  },
  method_not_allowed: {
    en: 'This method is not allowed here',
    'zh-CN': '此处不允许该请求方法',
  },
  missing_columns: {
    en: 'The upload lacks required columns[: {columns}]',
    'zh-CN': '上传内容缺少必需的列[：{columns}]',
  },
  missing_token: {
    en: 'Send an access token: Authorization: Bearer <token>',
    'zh-CN': '请发送访问令牌：Authorization: Bearer <token>',
  },
  mobile_required: {
    en: '[Row {row}: ][{field}: ]a mobile number is required for this channel',
    'zh-CN': '[第 {row} 行：][{field}：]该渠道需要手机号',
  },
  nesting_too_deep: {
    en: 'The request body nests objects or arrays too deeply',
    'zh-CN': '请求体中对象或数组嵌套过深',
  },
  no_subscribed_endpoints: {
    en: 'No enabled webhook endpoint subscribes to this event',
    'zh-CN': '没有已启用的 Webhook 端点订阅该事件',
  },
  not_acceptable: {
    en: 'The response cannot be given in an acceptable format',
    'zh-CN': '无法以可接受的格式返回响应',
  },
  not_changeable: {
    en: 'The recipient can no longer be changed',
    'zh-CN': '该领取人已无法修改',
  },
  not_resendable: {
    en: "The recipient's message cannot be resent",
    'zh-CN': '无法重新发送该领取人的消息',
  },
  not_sent_yet: {
    en: 'The message has not been sent yet',
    'zh-CN': '消息尚未发送',
  },
  operator_client_required: {
    en: 'This call needs an operator client',
    'zh-CN': '此调用需要运营方客户端',
  },
  order_distributed: {
    en: "The order's cards are being distributed to employees: it cannot be exported[: order '{order_id}']",
    'zh-CN': "该订单的卡正在发放给员工，无法导出[：订单 '{order_id}']",
  },
  order_exported: {
    en: "The order's card codes were exported: it cannot be distributed[: order '{order_id}']",
    'zh-CN': "该订单的卡密已导出，无法发放[：订单 '{order_id}']",
  },
  order_not_issued: {
    en: "The order's cards are not issued yet[: order '{order_id}']",
    'zh-CN': "该订单的卡尚未制发[：订单 '{order_id}']",
  },
  order_not_paid: {
    en: "The order is not paid yet[: order '{order_id}']",
    'zh-CN': "该订单尚未支付[：订单 '{order_id}']",
  },
  order_reference_required: {
    en: 'An order_id or a po_number is required',
    'zh-CN': '须提供 order_id 或 po_number',
  },
  otp_invalid: {
    en: 'The one-time code is wrong',
    'zh-CN': '验证码错误',
  },
  otp_locked: {
    en: 'Too many wrong one-time codes: ask for a new one',
    'zh-CN': '验证码错误次数过多，请重新获取',
  },
  otp_not_required: {
    en: 'No one-time code is needed for this card',
    'zh-CN': '该卡无需验证码',
  },
  otp_required: {
    en: 'A one-time code is needed: ask for one first',
    'zh-CN': '需要验证码，请先获取',
  },
  otp_send_failed: {
    en: 'The SMS could not be sent; try again',
    'zh-CN': '短信发送失败，请重试',
  },
  otp_send_limit: {
    en: 'No more one-time codes for this link',
    'zh-CN': '该链接已无法再获取验证码',
  },
  otp_too_soon: {
    en: 'One code at a time: try again shortly[ (in {retry_after} s)]',
    'zh-CN': '验证码发送过于频繁，请稍后重试[（{retry_after} 秒后）]',
  },
  payload_too_large: {
    en: 'The request body is too large',
    'zh-CN': '请求体过大',
  },
  payment_already_recorded: {
    en: 'This bank reference is booked already',
    'zh-CN': '该银行流水号已入账',
  },
  payment_code_expired: {
    en: 'This payment code has expired: show a fresh one',
    'zh-CN': '付款码已过期，请刷新后重试',
  },
  payment_code_invalid: {
    en: 'This is not a valid payment code',
    'zh-CN': '付款码无效',
  },
  payment_code_unavailable: {
    en: "This card's payment code is shown in the app of the account it was added to, not on its claim page",
    'zh-CN': '该卡的付款码请在所添加账户的应用中查看，领取页面不提供',
  },
  payment_code_used: {
    en: 'This payment code has already been used',
    'zh-CN': '付款码已被使用',
  },
  payment_method_mismatch: {
    en: 'The order is paid another way',
    'zh-CN': '该订单的付款方式不同',
  },
  po_number_exists: {
    en: 'An order with this PO number exists already',
    'zh-CN': '已存在该采购单号的订单',
  },
  private_key_given: {
    en: 'A private key was sent: send the public key only (nothing was stored)',
    'zh-CN': '发送的是私钥：请仅发送公钥（未保存任何内容）',
  },
  product_not_found: {
    en: "No such product[: '{product_id}']",
    'zh-CN': "未找到该产品[：'{product_id}']",
  },
  rate_limited: {
    en: 'Too many requests; retry after the time in Retry-After',
    'zh-CN': '请求过多，请在 Retry-After 指定的时间后重试',
  },
  real_name_required: {
    en: '[Row {row}: ][{field}: ]a real name is required (name, id_type, id_number, mobile)',
    'zh-CN': '[第 {row} 行：][{field}：]需要提供实名信息（姓名、证件类型、证件号码、手机号）',
  },
  recipients_or_file_id: {
    en: '[{field}: ]give either recipients or file_id',
    'zh-CN': '[{field}：]请提供 recipients 或 file_id 之一',
  },
  recovery_window_exceeded: {
    en: 'The time to undo this has passed',
    'zh-CN': '已超过可撤销的期限',
  },
  reencryption_in_progress: {
    en: 'A re-encryption is running already',
    'zh-CN': '已有重新加密任务正在运行',
  },
  reference_reused: {
    en: 'This reference was used with other values',
    'zh-CN': '该业务参考号已用于不同的参数',
  },
  registered_card_not_reactivatable: {
    en: 'A registered card cannot be reactivated this way',
    'zh-CN': '记名卡无法以此方式重新激活',
  },
  resend_limit_reached: {
    en: 'The recipient was resent too often in the last 24 hours[: at most {limit}]',
    'zh-CN': '该领取人在 24 小时内重发次数过多[：最多 {limit} 次]',
  },
  resource_not_found: {
    en: "No {object} with id '{id}'",
    'zh-CN': "未找到 id 为 '{id}' 的{object}",
  },
  reveal_limit_reached: {
    en: 'The code may not be shown again[: at most {limit} times]',
    'zh-CN': '卡密显示次数已达上限[：最多 {limit} 次]',
  },
  reversal_exceeds_debit: {
    en: 'The reversal exceeds what the debit left',
    'zh-CN': '冲正金额超过原扣款剩余金额',
  },
  scope_not_allowed: {
    en: 'A scope is not allowed for this kind of client',
    'zh-CN': '该类型客户端不允许此权限范围',
  },
  self_approval_not_allowed: {
    en: 'The client that placed the order cannot approve it',
    'zh-CN': '下单的客户端不能审批该订单',
  },
  self_confirmation_not_allowed: {
    en: 'The client that asked cannot confirm its own request',
    'zh-CN': '发起请求的客户端不能确认自己的请求',
  },
  serial_not_available: {
    en: '[Row {row}: ][{field}: ]the card is not available',
    'zh-CN': '[第 {row} 行：][{field}：]该卡不可用',
  },
  risk_blocked: {
    en: 'Refused by a fraud rule[: {rule}]',
    'zh-CN': '因风控规则被拒绝[：{rule}]',
  },
  serial_not_in_order: {
    en: '[Row {row}: ][{field}: ]the serial is not a card of the order',
    'zh-CN': '[第 {row} 行：][{field}：]该卡号不属于此订单',
  },
  service_unavailable: {
    en: 'The service is unavailable; try again shortly',
    'zh-CN': '服务暂不可用，请稍后重试',
  },
  special_invoice_not_allowed: {
    en: 'Special VAT invoices are not issued for prepaid cards',
    'zh-CN': '预付卡不开具增值税专用发票',
  },
  statement_run_expired: {
    en: 'The statement file has expired or could not be built; ask for it again',
    'zh-CN': '该对账单文件已过期或生成失败，请重新申请',
  },
  statement_run_not_ready: {
    en: 'The statement file is still being built; wait for statement.ready or poll the run',
    'zh-CN': '对账单文件仍在生成中，请等待 statement.ready 事件或查询生成状态',
  },
  token_expired: {
    en: 'The access token has expired',
    'zh-CN': '访问令牌已过期',
  },
  too_many_export_keys: {
    en: 'Too many export keys are registered',
    'zh-CN': '已注册的导出密钥过多',
  },
  too_many_failed_attempts: {
    en: 'Too many failed attempts[; try again in {retry_after} s]',
    'zh-CN': '失败次数过多[，请在 {retry_after} 秒后重试]',
  },
  too_many_webhook_endpoints: {
    en: 'Too many webhook endpoints are registered',
    'zh-CN': '已注册的 Webhook 端点过多',
  },
  unauthorized: {
    en: 'Authentication is required',
    'zh-CN': '需要身份认证',
  },
  unknown_channel: {
    en: 'No such redemption channel',
    'zh-CN': '不存在该核销渠道',
  },
  unknown_event_type: {
    en: 'No such event type',
    'zh-CN': '不存在该事件类型',
  },
  unknown_field: {
    en: '[Row {row}: ][{field}: ]the request may not carry this field',
    'zh-CN': '[第 {row} 行：][{field}：]请求不允许包含此字段',
  },
  unprocessable_entity: {
    en: 'The request cannot be processed',
    'zh-CN': '请求无法处理',
  },
  unsupported_grant_type: {
    en: 'Only grant_type=client_credentials is supported',
    'zh-CN': '仅支持 grant_type=client_credentials',
  },
  unsupported_media_type: {
    en: 'Send the body as application/json',
    'zh-CN': '请以 application/json 发送请求体',
  },
  uri_too_long: {
    en: 'A path parameter is too long',
    'zh-CN': '路径参数过长',
  },
  validation_failed: {
    en: '{count} fields are invalid',
    'zh-CN': '{count} 个字段无效',
  },
  validity_too_short: {
    en: 'The validity is shorter than the rules allow',
    'zh-CN': '有效期短于规定的最短期限',
  },
  webhook_endpoint_disabled: {
    en: 'The webhook endpoint is disabled',
    'zh-CN': '该 Webhook 端点已停用',
  },
  webhook_url_not_https: {
    en: 'The webhook url must use https',
    'zh-CN': 'Webhook URL 必须使用 https',
  },
  webhook_url_private_address: {
    en: 'The webhook url points at a private or reserved address',
    'zh-CN': 'Webhook URL 指向私有或保留地址',
  },
  webhook_url_unresolvable: {
    en: 'The host of the webhook url does not resolve',
    'zh-CN': '无法解析 Webhook URL 的主机名',
  },
} as const satisfies Record<string, Readonly<Record<Language, string>>>;

export const LANGUAGES = ['en', 'zh-CN'] as const;
export type Language = (typeof LANGUAGES)[number];

/** Every code an error of this API may carry. */
export type ErrorCode = keyof typeof ERROR_MESSAGES;

/** Problem `title`: the HTTP status's reason phrase in the reader's language (English: Node's STATUS_CODES). */
export const STATUS_TITLES_ZH: Readonly<Record<number, string>> = {
  400: '请求无效',
  401: '未认证',
  403: '禁止访问',
  404: '未找到',
  405: '方法不允许',
  406: '无法接受',
  409: '冲突',
  410: '已失效',
  413: '请求体过大',
  414: 'URI 过长',
  415: '不支持的媒体类型',
  422: '无法处理的请求',
  429: '请求过多',
  500: '内部错误',
  503: '服务不可用',
};

/** Object names a 404 (`resource_not_found`) names, in Chinese; another name is shown as it is. */
export const OBJECT_NAMES_ZH: Readonly<Record<string, string>> = {
  order: '订单',
  product: '产品',
  enterprise: '企业',
  api_client: 'API 客户端',
  export: '导出',
  batch: '批次',
  invoice: '发票',
  'export key': '导出密钥',
  distribution: '发放',
  'distribution file': '发放文件',
  'webhook endpoint': 'Webhook 端点',
  route: '路由',
  're-encryption': '重新加密任务',
  'invoice profile': '开票信息',
  'export download': '导出下载',
  event: '事件',
  'distribution recipient': '发放领取人',
  debit: '扣款',
};

export type MessageParams = Readonly<Record<string, string | number>>;

/** Fills a template: `[…]` parts whose every value is known, then each `{name}`. */
export function interpolate(template: string, params: MessageParams): string {
  const known = (part: string) => [...part.matchAll(/\{(\w+)\}/g)].every(([, name]) => params[name] !== undefined);
  return template
    .replace(/\[([^\]]*)\]/g, (_, part: string) => (known(part) ? part : ''))
    .replace(/\{(\w+)\}/g, (whole, name: string) => (params[name] === undefined ? whole : String(params[name])));
}

/** The catalog text of `code` in `language`, filled with `params`. */
export function messageOf(code: ErrorCode, language: Language, params: MessageParams = {}): string {
  return interpolate(ERROR_MESSAGES[code][language], params);
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_MESSAGES, code);
}

/**
 * The language of a request's `Accept-Language` (RFC 9110 §12.5.4): the highest-weighted range that is Chinese
 * (`zh`, `zh-CN`, `zh-Hans`, …: Simplified Chinese is the only Chinese offered) or English; English when none is.
 */
export function languageOf(header: string | string[] | undefined): Language {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return 'en';
  const ranges = value
    .split(',')
    .map((entry, index) => {
      const [range, ...attributes] = entry.trim().toLowerCase().split(';');
      const q = attributes.map((a) => /^\s*q=([01](?:\.\d{0,3})?)\s*$/.exec(a)?.[1]).find((v) => v !== undefined);
      return { range: range.trim(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { range } of ranges) {
    if (range === 'zh' || range.startsWith('zh-')) return 'zh-CN';
    if (range === 'en' || range.startsWith('en-') || range === '*') return 'en';
  }
  return 'en';
}
