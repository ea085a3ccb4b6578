-- header_tombstone: a leg outlived its deadline and its reservation has no header, so the
-- attempt that made it died. Mark the id aborted, so a late header_create cannot revive it.
-- KEYS[1] header  KEYS[2] home partition stream
-- ARGV[1] reservation id  [2] channel  [3] now_ms  [4] stream maxlen  [5] retention_s
-- returns {'aborted'} | {'exists', state}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local state = redis.call('HGET', KEYS[1], 'st')
if state then return {'exists', state} end
local now = clock_ms(ARGV[3])
redis.call('HSET', KEYS[1], 'st', 'aborted', 'd', '', 'ch', ARGV[2], 'exp', now, 'ts', now,
  'parts', '')
redis.call('EXPIRE', KEYS[1], ARGV[5])
emit({stream = KEYS[2], maxlen = ARGV[4], now = now, type = 'reservation_aborted',
  rid = ARGV[1], reason = 'coordinator_lost'})
return {'aborted'}
