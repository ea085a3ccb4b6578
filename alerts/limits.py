"""Every bound and default of back-in-stock alerts, named once (read by the API schemas,
the settings check and the worker, so they cannot disagree)."""

from typing import Final

# Contacts: RFC 5321's path limit for an address; E.164 numbers hold at most 15 digits.
EMAIL_LENGTH_MAX: Final = 254
PHONE_DIGITS_MIN: Final = 7
PHONE_DIGITS_MAX: Final = 15
PHONE_TEXT_LENGTH_MAX: Final = 32  # as typed, with spaces and dashes
CONSENT_SOURCE_LENGTH_MAX: Final = 64
UNSUBSCRIBE_TOKEN_LENGTH_MAX: Final = 64  # tokens are 32 characters (24 random bytes)
# A sign-up that finds its waiting twin notified between two statements inserts again.
SIGN_UP_ATTEMPTS_MAX: Final = 2
# A consent stamped later than the server's now by more than this is refused (clock skew).
CONSENT_FUTURE_SKEW_S: Final = 300

# How many subscribers one available unit notifies (oldest first); the rest wait.
SUBSCRIBERS_PER_UNIT_DEFAULT: Final = 3
SUBSCRIBERS_PER_UNIT_MAX: Final = 1000
# Incoming supply counts as units to notify for (with its promise date as the window) only
# when it is due within this many days: a date months away is not a back-in-stock alert.
PROMISE_HORIZON_DAYS: Final = 14

# One resend to those who did not open, this long after the send.
RESEND_DELAY_S_DEFAULT: Final = 24 * 3600
RESEND_DELAY_S_MIN: Final = 60
RESEND_DELAY_S_MAX: Final = 14 * 24 * 3600

# An order within this long of a send, from its contact for its SKU, is a conversion.
CONVERSION_WINDOW_S: Final = 48 * 3600

# The worker: how often it looks for new changes, pending triggers and due resends, and how
# much it takes per transaction (every loop bounded).
WORKER_INTERVAL_S: Final = 0.1
WORKER_INTERVAL_S_MAX: Final = 60.0
CHANGES_PER_PASS_MAX: Final = 5000
TRIGGERS_PER_PASS_MAX: Final = 100
SENDS_PER_PASS_MAX: Final = 500  # notifications recorded (and published) per transaction
RESENDS_PER_PASS_MAX: Final = 500
ORDER_SKUS_MAX: Final = 1000  # SKUs of one order looked at for a conversion

assert SUBSCRIBERS_PER_UNIT_DEFAULT <= SUBSCRIBERS_PER_UNIT_MAX
assert RESEND_DELAY_S_MIN <= RESEND_DELAY_S_DEFAULT <= RESEND_DELAY_S_MAX
