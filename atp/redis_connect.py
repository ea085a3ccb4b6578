"""Which transport a Redis URL names (atp/redis_io.py, atp/redis_cluster.py)."""

from atp.redis_cluster import ClusterRedis
from atp.redis_io import PipelinedRedis, RedisIO


def connect(url: str) -> RedisIO:
    """``redis://host:port/db`` for one Redis; ``redis+cluster://host:port[,host:port...]``
    for a cluster (any node listed that answers gives the slot map)."""
    if url.startswith("redis+cluster://"):
        return ClusterRedis.from_url(url)
    return PipelinedRedis.from_url(url)
