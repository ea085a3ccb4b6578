"""Back-in-stock alerts: from the stock write that makes a SKU available to the
``alert.triggered`` webhook delivery being recorded, with 100,000 subscriptions on it."""
