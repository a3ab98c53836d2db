import { testNotifyDestination } from './notify-destination.contract.js';
import { chatText, webhookRunner } from './notify-webhook-receiver.js';

testNotifyDestination('Microsoft Teams', webhookRunner({
  format: 'teams',
  read: chatText,
  // A Teams incoming webhook reads Markdown and some HTML: the words are shown, the link and the tags are not made.
  literal: {
    shows: ['Reset', 'evil.example/login', 'urgent', 'channel'],
    // An autolink needs a bare `<`; `\<` (a Markdown escape) or `&lt;` shows the character.
    never: ['[Reset](https://evil.example/login)', '<b>urgent</b>', '<!channel>', /(?<!\\)<https:\/\/evil/],
  },
}));
