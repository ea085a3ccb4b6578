-- A reservation whose legs are journaled and whose header is not (yet) has a row in state
-- 'pending' (durability/store.py). At a rebuild every pending row with open units is an
-- attempt that was never acknowledged (its header never reached the journal: the master
-- holding it died, or the coordinator did): the rebuild rolls its legs back
-- (durability/restore_reservations.py). This index keeps that look-up off the table.
CREATE INDEX reservations_pending ON reservations (id) WHERE state = 'pending';
