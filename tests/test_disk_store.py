"""The model-call cache and the transcript store never drop an entry: each one is a paid-for call.
diskcache's default evicts the least recently stored entries past 1 GB, silently."""

from __future__ import annotations

import pytest

import diskcache
from distill.agents.clients import open_cache
from distill.corpus.transcripts import Transcript, TranscriptStore

SIZE_LIMIT = 64 * 1024  # stands in for diskcache's 1 GB default, so the test stays small
ENTRIES = 200
VALUE = "x" * 4096  # 200 x 4 KB is well past the limit


def _fill(cache: diskcache.Cache) -> int:
    cache.reset("size_limit", SIZE_LIMIT)
    for i in range(ENTRIES):
        cache.set(f"call-{i}", {"result": VALUE})
    return sum(1 for i in range(ENTRIES) if cache.get(f"call-{i}") is not None)


def test_a_plain_diskcache_would_evict_past_its_size_limit(tmp_path):
    # the hazard the stores below are opened against
    assert _fill(diskcache.Cache(str(tmp_path / "plain"))) < ENTRIES


def test_the_model_call_cache_keeps_every_entry_past_the_size_limit(tmp_path):
    assert _fill(open_cache(tmp_path / "cache")) == ENTRIES


def test_the_transcript_store_keeps_every_transcript_past_the_size_limit(tmp_path):
    store = TranscriptStore(tmp_path / "transcripts")
    store.cache.reset("size_limit", SIZE_LIMIT)
    for i in range(ENTRIES):
        store.put(Transcript(problem_id=f"p{i}", source="t", year=2001, status="accepted", solution=VALUE, key="1",
                             fingerprint="f", started_at="2026-11-30T00:00:00Z"))
    assert all(store.get(f"p{i}") is not None for i in range(ENTRIES))
    reopened = TranscriptStore(tmp_path / "transcripts")  # the setting is stored with the cache, not only in this object
    assert reopened.cache.eviction_policy == "none" and len(list(reopened.all())) == ENTRIES


KEYS = [("transcript", "obryan-2024-fs-03"), ("transcript", "obryan-2024-fs-03", 3), ("samples", "x"), ("level", "p-1", "R6"),
        ("transcript", "é中 id with spaces", 2 ** 62), ("transcript", "", 0), ("a", "a"), ("level", "R2", "R2"), (True, 1), (1, 2.5),
        ("transcript", "p", -(2 ** 63)), ("transcript", "p", 2 ** 63), ((1, 2), "nested"), "plain string", 7, b"bytes"]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_the_fast_key_encoding_is_byte_for_byte_diskcaches(key, tmp_path):
    """A store written by plain diskcache reads back through ours, key for key (and the other way round)."""
    import diskcache

    from distill.io import open_disk_store

    ours = open_disk_store(tmp_path)
    theirs = diskcache.Disk(str(tmp_path), pickle_protocol=ours.disk_pickle_protocol)
    assert ours._disk.put(key) == theirs.put(key)
    with diskcache.Cache(str(tmp_path / "plain")) as plain:
        plain.set(key, {"v": 1})
    assert open_disk_store(tmp_path / "plain").get(key) == {"v": 1}


def test_store_keys_are_diskcaches_keys_in_one_pass(tmp_path):
    """`store_keys` reads the same keys as diskcache's `iterkeys` (whose paging is quadratic in SQLite)."""
    from distill.io import open_disk_store, store_keys

    cache = open_disk_store(tmp_path)
    for i, key in enumerate(KEYS + [("transcript", f"p-{i:04d}") for i in range(250)]):  # past one of iterkeys' 100-key pages
        cache.set(key, i)
    ours = list(store_keys(cache))
    assert len(ours) == len(KEYS) + 250 and sorted(map(repr, ours)) == sorted(map(repr, cache.iterkeys()))
    store = TranscriptStore(tmp_path / "store")
    for pid in ("b", "a", "c"):
        store.put(Transcript(problem_id=pid, source="t", status="accepted", solution="s", key="1", fingerprint="f", started_at="now"))
    store.put(Transcript(problem_id="a", sample=2, source="t", status="accepted", solution="s", key="1", fingerprint="f", started_at="now"))
    assert store.ids() == [("a", 0), ("a", 2), ("b", 0), ("c", 0)]


def test_store_get_many_reads_what_get_reads(tmp_path):
    """Present and absent keys of every kind, a value big enough to live in its own file, past one 500-key query."""
    from distill.io import open_disk_store, store_get_many

    cache = open_disk_store(tmp_path)
    for i, key in enumerate(KEYS):
        cache.set(key, {"i": i})
    cache.set(("revision", "big"), "y" * 100_000)  # diskcache keeps values this size in a file
    cache.set(b"raw", "a bytes key")
    keys = KEYS + [("revision", "big"), b"raw", ("absent", 1), "absent"] + [("revision", f"p-{i}") for i in range(600)]
    assert store_get_many(cache, keys) == [cache.get(k) for k in keys]
    assert store_get_many(cache, keys)[len(KEYS)] == "y" * 100_000


def test_revisions_in_one_query_equal_one_at_a_time(tmp_path):
    store = TranscriptStore(tmp_path)
    for pid in ("a", "b"):
        store.put(Transcript(problem_id=pid, source="t", status="accepted", solution="s", key="1", fingerprint="f", started_at="now"))
    store.cache.delete(("revision", "b"))  # a store written before revision tokens: the records themselves stand in
    ids = ["a", "b", "none"]
    assert store.revisions(ids, ["R2"]) == [store.revision(p, ["R2"]) for p in ids]
    assert isinstance(store.revisions(ids, ["R2"])[1], list) and store.revisions(ids, ["R2"])[2] is None
