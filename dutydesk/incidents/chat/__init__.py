"""Acting on incidents from chat: Telegram bot buttons, Slack and Mattermost interactive messages.

- ``render``: what a page looks like in each chat and which buttons it carries (pure);
- ``links``: one-time link codes and the chat account ↔ DutyDesk user links;
- ``acting``: a button press becomes ``service.perform`` as the linked person (one
  implementation of acknowledge / resolve / escalate for every channel);
- ``refresh``: when an incident changes, every chat message that paged it is edited (outbox);
- ``telegram``: updates by long polling or webhook, replies to the Bot API;
- ``slack``: Slack request signatures and interaction payloads, Mattermost action requests.
"""
