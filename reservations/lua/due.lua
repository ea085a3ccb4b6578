-- due: expiry index entries whose deadline has passed, by the server's clock.
-- KEYS[1] partition expiry index
-- ARGV[1] now_ms (0 = server time)  [2] batch max
-- returns members: 'h:<id>' (a header to expire) or 'l:<id>' (a leg to resolve)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', clock_ms(ARGV[1]), 'LIMIT', 0, ARGV[2])
