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
local pos_keys = {}
for i = 4, #KEYS do pos_keys[i - 3] = KEYS[i] end
return leg_unhold(KEYS[1], KEYS[2], KEYS[3], pos_keys, ARGV[1], clock_ms(ARGV[2]), ARGV[3],
  ARGV[4], ARGV[5])
