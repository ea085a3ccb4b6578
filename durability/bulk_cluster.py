"""Bulk writes for a rebuild on a Redis Cluster: one BulkWriter per master, each command
sent to the master that serves its key's slot.

Every command a rebuild sends names one key, second (HSET, SADD, ZADD, EXPIRE, SET, DEL),
and every key of the schema carries a hash tag (atp/keys.py), so a tag's master is looked
up once. Commands on one key keep their order (one connection per master); a rebuild needs
no order across keys.
"""

from atp.redis_cluster import ClusterRedis
from atp.redis_io import Arg
from durability.bulk import BulkWriter
from durability.limits import REBUILD_PIPELINE_MAX


def hash_tag(key: str) -> str:
    """``{pNN}`` / ``{meta}``: what decides a key's slot (the whole key when it has none)."""
    start = key.find("{")
    end = key.find("}", start + 1)
    return key[start : end + 1] if start >= 0 and end > start + 1 else key


class ClusterBulkWriter(BulkWriter):
    """A BulkWriter whose commands fan out to the cluster's masters by slot."""

    def __init__(self, redis: ClusterRedis, chunk: int = REBUILD_PIPELINE_MAX) -> None:
        super().__init__("redis://127.0.0.1:6379/0", chunk)  # only its counters are used
        self._redis = redis
        self._by_node: dict[str, BulkWriter] = {}
        self._by_tag: dict[str, BulkWriter] = {}

    async def __aenter__(self) -> "ClusterBulkWriter":
        await self._redis.command("PING")  # the slot map, before keys are routed by it
        return self

    async def __aexit__(self, *exc: object) -> None:
        errors: list[BaseException] = []
        for writer in self._by_node.values():
            try:
                await writer.__aexit__(*exc)
            except Exception as error:  # close every connection, then report the first
                errors.append(error)
        self.sent = sum(w.sent for w in self._by_node.values())
        if errors and exc[0] is None:
            raise errors[0]

    async def _writer_of(self, key: str) -> BulkWriter:
        tag = hash_tag(key)
        writer = self._by_tag.get(tag)
        if writer is not None:
            return writer
        node = self._redis.client.get_node_from_key(key)
        assert node is not None, "every slot is served by a master"
        writer = self._by_node.get(node.name)
        if writer is None:
            writer = BulkWriter(f"redis://{node.host}:{node.port}/0", self.chunk)
            await writer.__aenter__()
            self._by_node[node.name] = writer
        self._by_tag[tag] = writer
        return writer

    async def command(self, *args: Arg) -> None:
        await (await self._writer_of(str(args[1]))).command(*args)

    async def flush(self) -> None:
        for writer in self._by_node.values():
            await writer.flush()
