-- leg_expire: return a held leg's open units, because its reservation expired or because
-- the attempt that created it failed on another partition (then the leg is deleted, so the
-- same id may be tried again).
-- KEYS[1] leg  KEYS[2] partition stream  KEYS[3] partition expiry index
-- KEYS[3+i] position of line i (every line of the leg, in order)
-- ARGV[1] reservation id  [2] now_ms  [3] stream maxlen  [4] retention_s
--     [5] mode: 'expired' | 'rolled_back'
-- returns {'applied'} | {'noop', state}
-- ARGV[#ARGV - 1], ARGV[#ARGV] (after those above): the actor's by and ref (atp/actor.py),
--     appended by the transports; every event the script appends carries them
take_actor()
local _, now_text = clock_ms(ARGV[2])
return leg_unhold(1, ARGV[1], now_text, ARGV[3], ARGV[4], ARGV[5])
