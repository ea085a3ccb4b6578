"""Back-in-stock alerts: subscriptions with consent, sends triggered through webhooks,
opens and conversions."""
