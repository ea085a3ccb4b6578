-- The journal's epoch fence (durability/store.py) as a function, so a group commit's batch
-- is fenced inside its one INSERT statement (one round trip, a plan PostgreSQL keeps) rather
-- than by a DO block in a transaction of its own (~440 us more a batch, measured). VOLATILE:
-- its query takes a fresh snapshot after the lock is granted, so it sees the epoch of a
-- rebuild that ended while the batch waited for it. The lock is held to the batch's commit.
CREATE FUNCTION atp_journal_fence(read_epoch bigint, rebuild_lock bigint) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(rebuild_lock);
    IF (SELECT max(epoch) FROM ledger_epochs) IS DISTINCT FROM read_epoch THEN
        RAISE EXCEPTION USING ERRCODE = 'AT001',
            MESSAGE = format('read under ledger epoch %s, since rebuilt', read_epoch);
    END IF;
    RETURN 1;
END $$;
