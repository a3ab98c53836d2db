import { testNotifyDestination } from './notify-destination.contract.js';
import { webhookRunner } from './notify-webhook-receiver.js';

testNotifyDestination('webhook (JSON)', webhookRunner({
  format: 'json',
  // The reader is a program: it gets the body, and the source's text in it as it was (JSON's own escaping only).
  read: (body) => body,
  literal: {
    shows: ['"source":"scimsync"', '"kind":"cycleFailed"', '"integration":"payroll-app"', '<!channel>', '<https://evil.example/login|Reset your password>', '<b>urgent</b>', '& Co'],
    never: ['&lt;', '&amp;'],
  },
}));
