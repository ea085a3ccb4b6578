-- A reservation whose legs are journaled and whose header is not (yet) has a row in state
-- 'pending' (durability/store.py). At a rebuild every pending row with open units is an
-- attempt that was never acknowledged (its header never reached the journal: the master
-- holding it died, or the coordinator did): the rebuild rolls its legs back
-- (durability/restore_reservations.py). Only rows of the last RESERVATION_TTL_S_MAX can be
-- (older legs were expired by the sweeper or rolled back by a rebuild), so the look-up is
-- by age: this index keeps it off the table, and lets a rebuild drop resolved rows.
CREATE INDEX reservations_pending ON reservations (updated_ms) WHERE state = 'pending';
