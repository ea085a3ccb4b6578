"""A connection a failover closes under redis-py's cluster client surfaces as redis-py's
``AttributeError`` on its writer; the engine must see a lost connection (a retry, a 503),
and only that: any other AttributeError is a bug and stays one."""

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from atp.redis_cluster import lost_under_it


async def test_a_writer_gone_under_the_command_is_a_lost_connection() -> None:
    with pytest.raises(RedisConnectionError, match="lost under a command"):
        async with lost_under_it():
            raise AttributeError("'NoneType' object has no attribute 'writelines'")


async def test_any_other_attribute_error_is_still_a_bug() -> None:
    with pytest.raises(AttributeError, match="no attribute 'held'"):
        async with lost_under_it():
            raise AttributeError("'Reservation' object has no attribute 'held'")
