import { testNotifyDestination } from './notify-destination.contract.js';
import { chatText, webhookRunner } from './notify-webhook-receiver.js';

testNotifyDestination('Slack', webhookRunner({
  format: 'slack',
  read: chatText,
  // Slack reads &, < and > as its control characters (api.slack.com/reference/surfaces/formatting#escaping).
  literal: {
    shows: ['&lt;!channel&gt;', '&lt;https://evil.example/login|Reset your password&gt;', '&lt;b&gt;urgent&lt;/b&gt;', '&amp; Co'],
    never: ['<!channel>', '<https://evil.example', '<b>'],
  },
}));
