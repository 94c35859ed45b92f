"""payments' writes: intents and refunds through the provider (`intents`), what the provider
tells us (`webhooks`), and the one place an intent's state advances (`transitions`)."""
