"""The object store behind the S3 emulator: buckets of objects in memory,
thread-safe.  sfkemu reads it directly when it runs the S3 server in its
own process (--s3), so COPY INTO sees exactly what clients uploaded.

An object: bytes, ETag (quoted MD5 hex, as S3 gives for single PUTs),
Last-Modified (whole seconds), Content-Type, user metadata (x-amz-meta-*).
"""
import hashlib
import re
import threading
import time

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class Obj:
    __slots__ = ("key", "data", "etag", "last_modified", "content_type", "meta")

    def __init__(self, key, data, content_type, meta, now):
        self.key, self.data = key, data
        self.etag = '"%s"' % hashlib.md5(data).hexdigest()
        self.last_modified = int(now)
        self.content_type = content_type or "binary/octet-stream"
        self.meta = dict(meta or {})

    def summary(self):
        return {"key": self.key, "size": len(self.data), "etag": self.etag,
                "last_modified": self.last_modified, "content_type": self.content_type,
                "meta": self.meta}


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.buckets = {}                 # name -> {"created": t, "objects": {key: Obj}}
        self.clock = time.time

    def reset(self, buckets=()):
        with self.lock:
            self.buckets = {}
            for b in buckets:
                self.create_bucket(b)

    def create_bucket(self, name):
        with self.lock:
            if name in self.buckets:
                return False
            self.buckets[name] = {"created": int(self.clock()), "objects": {}}
            return True

    def delete_bucket(self, name):
        with self.lock:
            del self.buckets[name]

    def bucket(self, name):
        with self.lock:
            return self.buckets.get(name)

    def put(self, bucket, key, data, content_type=None, meta=None):
        with self.lock:
            obj = Obj(key, bytes(data), content_type, meta, self.clock())
            self.buckets[bucket]["objects"][key] = obj
            return obj

    def get(self, bucket, key):
        with self.lock:
            b = self.buckets.get(bucket)
            return None if b is None else b["objects"].get(key)

    def delete(self, bucket, key):
        with self.lock:
            b = self.buckets.get(bucket)
            return b is not None and b["objects"].pop(key, None) is not None

    def list(self, bucket, prefix="", start_after=""):
        """Objects of a bucket whose key starts with prefix, key order
        (UTF-8 binary order, as S3), after start_after."""
        with self.lock:
            objs = list(self.buckets[bucket]["objects"].values())
        objs = [o for o in objs if o.key.startswith(prefix) and
                o.key.encode() > start_after.encode()]
        objs.sort(key=lambda o: o.key.encode())
        return objs
