"""The payments context: payment intents, captures, cancellations, refunds, provider webhooks."""
