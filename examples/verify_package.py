#!/usr/bin/env python3
"""Independent verifier for tollgate customer audit packages.

Checks a package (a directory or a .tar) offline, with nothing but Python's
standard library: RFC 8785 canonical JSON, SHA-256 record hashes and chain
links, and Ed25519 signatures (a small pure-Python implementation of RFC 8032
verification ships below; the `cryptography` package is used instead when it
is installed, and the output says which; VERIFY_PACKAGE_PURE_PYTHON=1 forces
the pure-Python check). It shares no code with tollgate, so
it checks the documented format (docs/audit-package.md), not our code.

Trust comes only from pinned keys: --pubkey HEX or --fingerprint sha256:HEX
as `tollgate audit pubkey` prints it on the server, each repeatable (a package
that spans a signing-key rotation needs the old and the new key pinned: every
checkpoint must be signed by a pinned key). --trust-embedded-key
checks integrity only (anyone can re-sign a package with their own key) and
says so loudly.

Usage:
    verify_package.py PATH ([--pubkey HEX]... [--fingerprint sha256:HEX]... | --trust-embedded-key) [--json]
    verify_package.py --self-test

Exit status: 0 valid, 1 invalid (an unreadable package included), 2 usage error.
On failure the last line names the first problem and its stable code in
brackets, the same code `tollgate audit verify` prints.
"""

import argparse
import hashlib
import json
import os
import sys
import tarfile

FORMAT = "tollgate-audit-package"
FORMAT_VERSIONS = (1, 2)  # 2 added public_keys (key rotation)
GENESIS = "sha256:" + "0" * 64
MAX_SAFE_INTEGER = 2**53 - 1
MANIFEST = "manifest.json"
RECORDS = "audit/records.jsonl"
CHECKPOINTS = "evidence/checkpoints.jsonl"
RECORD_FIELDS = [
    "chain", "seq", "ts", "request_id", "principal", "tenant", "tool", "version", "decision",
    "reason", "args_digest", "result_digest", "usage", "transport", "prev", "hash",
]
AGGREGATE_FIELDS = ["count", "window_start", "window_end"]
CHECKPOINT_FIELDS = ["type", "key_id", "chain", "seq", "hash", "ts", "signature"]


class Invalid(Exception):
    """The first problem found; `code` is the stable name."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


# --- RFC 8785 canonical JSON ------------------------------------------------

def _escape(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def canonical(v):
    """RFC 8785 form of a value holding no floats (audit data holds none)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        if abs(v) > MAX_SAFE_INTEGER:
            raise ValueError("integer beyond 2^53-1")
        return str(v)
    if isinstance(v, str):
        return _escape(v)
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_escape(k) + ":" + canonical(v[k]) for k in keys) + "}"
    raise ValueError("not representable in canonical JSON: %r" % type(v))


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError("duplicate key %r" % k)
        seen[k] = v
    return seen


def _no_float(text):
    raise ValueError("floating-point number %s" % text)


def parse_json(text):
    """Strict JSON: no duplicate keys, no floats, no NaN."""
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_float=_no_float,
                      parse_constant=_no_float)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- Ed25519 verification (RFC 8032, section 5.1.7) -------------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_I = pow(2, (_P - 1) // 4, _P)


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 % _P == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _I % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _decompress(b):
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


def _add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _equal(p, q):
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


_GY = 4 * pow(5, _P - 2, _P) % _P
_G = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % _P)


def _small_order(point):
    return _equal(_mul(8, point), (0, 1, 1, 0))


def ed25519_verify_pure(public, message, signature):
    """Strict verification: canonical s, no small-order key or R, cofactorless equation."""
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None or _small_order(a) or _small_order(r):
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _L
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


def _backend():
    if os.environ.get("VERIFY_PACKAGE_PURE_PYTHON") == "1":
        return "pure-Python Ed25519 (RFC 8032)", ed25519_verify_pure
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return "pure-Python Ed25519 (RFC 8032)", ed25519_verify_pure

    def verify(public, message, signature):
        if len(public) != 32 or len(signature) != 64:
            return False
        a = _decompress(public)
        if a is None or _small_order(a):
            return False
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            return False

    return "the `cryptography` package", verify


BACKEND, ed25519_verify = _backend()


# --- reading a package ------------------------------------------------------

def _safe(path):
    parts = path.split("/")
    return bool(path) and all(
        p and p not in (".", "..") and all(c.isascii() and (c.isalnum() or c in "_.-") for c in p)
        for p in parts
    )


def read_package(path):
    tree = {}
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path, followlinks=False):
            for name in dirs:
                if os.path.islink(os.path.join(root, name)):
                    raise Invalid("unreadable", "%s is a symlink" % os.path.join(root, name))
            for name in files:
                full = os.path.join(root, name)
                if os.path.islink(full) or not os.path.isfile(full):
                    raise Invalid("unreadable", "%s is not a regular file" % full)
                rel = os.path.relpath(full, path).replace(os.sep, "/")
                with open(full, "rb") as f:
                    tree[rel] = f.read()
        return tree
    try:
        with tarfile.open(path, "r:") as tar:
            for member in tar.getmembers():
                name = member.name.rstrip("/")
                if member.isdir():
                    continue
                if not member.isreg():
                    raise Invalid("unreadable", "%s: unexpected tar entry type" % name)
                if not _safe(name):
                    raise Invalid("unreadable", "unsafe path in archive: %r" % name)
                if name in tree:
                    raise Invalid("unreadable", "%s appears twice in the archive" % name)
                tree[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError) as e:
        raise Invalid("unreadable", "not a readable package: %s" % e)
    return tree


# --- verification -----------------------------------------------------------

def _digest_like(s):
    return isinstance(s, str) and len(s) == 71 and s.startswith("sha256:") and all(
        c in "0123456789abcdef" for c in s[7:])


def _parse_lines(tree, name, parse):
    data = tree.get(name)
    if data is None:
        raise Invalid("file_missing", "%s is listed in the manifest but missing" % name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("malformed", "%s: not UTF-8" % name)
    if text.endswith("\n"):
        text = text[:-1]
    if text == "":
        return []
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        try:
            if line.strip() == "":
                raise ValueError("empty line")
            out.append(parse(parse_json(line)))
        except ValueError as e:
            raise Invalid("malformed", "%s: line %d is malformed: %s" % (name, number, e))
    return out


def _record(v):
    if not isinstance(v, dict):
        raise ValueError("not an object")
    keys = set(v)
    expected = set(RECORD_FIELDS)
    if keys != expected and keys != expected | set(AGGREGATE_FIELDS):
        raise ValueError("unexpected or missing fields: %s" % sorted(keys ^ expected))
    if not isinstance(v["seq"], int) or isinstance(v["seq"], bool) or v["seq"] < 1:
        raise ValueError("seq must be a positive integer")
    for f in ("prev", "hash"):
        if not _digest_like(v[f]):
            raise ValueError("%s is not a sha256 digest" % f)
    if not isinstance(v["chain"], str):
        raise ValueError("chain must be a string")
    return v


def _checkpoint(v):
    if not isinstance(v, dict) or set(v) != set(CHECKPOINT_FIELDS):
        raise ValueError("not a checkpoint")
    if v["type"] != "checkpoint" or not isinstance(v["seq"], int) or isinstance(v["seq"], bool):
        raise ValueError("not a checkpoint")
    sig = v["signature"]
    if not (isinstance(sig, str) and len(sig) == 128 and all(c in "0123456789abcdef" for c in sig)):
        raise ValueError("signature must be 128 lowercase hex digits")
    return v


def _fingerprint(raw):
    return sha256(raw)


def _key_id(raw):
    return hashlib.sha256(raw).hexdigest()[:16]


def _listed_keys(manifest, version):
    """The keys the manifest lists ({key_id: raw}), each checked against itself."""
    if (version >= 2) != ("public_keys" in manifest):
        raise Invalid("manifest_malformed", "manifest.json is malformed: public_keys is required in format "
                      "version 2 and absent in version 1")
    refs = manifest["public_keys"] if version >= 2 else [manifest["public_key"]]
    listed = {}
    try:
        if not isinstance(refs, list):
            raise ValueError("public_keys must be a list")
        for ref in refs:
            raw = bytes.fromhex(ref["hex"])
            if (len(raw) != 32 or ref["hex"] != ref["hex"].lower() or ref["algorithm"] != "ed25519"
                    or ref["fingerprint"] != _fingerprint(raw) or ref["key_id"] != _key_id(raw)):
                raise ValueError("public_keys: the entry for %s does not describe its own key" % ref["hex"])
            if ref["key_id"] in listed:
                raise ValueError("public_keys: %s is listed twice" % ref["key_id"])
            listed[ref["key_id"]] = raw
        if manifest["public_key"] not in refs:
            raise ValueError("public_keys does not list the manifest's signing key")
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise Invalid("manifest_malformed", "manifest.json is malformed: %s" % e)
    return listed


def verify(tree, pubkeys=(), fingerprints=(), embedded_trust=False):
    """Returns a report dict, or raises Invalid naming the first problem.

    A listed key is trusted when it is one of `pubkeys` (raw 32-byte keys) or
    has one of `fingerprints`, or always with `embedded_trust`."""
    raw = tree.get(MANIFEST)
    if raw is None:
        raise Invalid("manifest_missing", "manifest.json is missing")
    try:
        manifest = parse_json(raw.decode("utf-8"))
        fmt, version = manifest["format"], manifest["format_version"]
        key_hex = manifest["public_key"]["hex"]
        embedded = bytes.fromhex(key_hex)
        if len(embedded) != 32 or key_hex != key_hex.lower():
            raise ValueError("public_key.hex must be 64 lowercase hex digits")
        signature = bytes.fromhex(manifest["signature"])
        chain = manifest["chain"]
        from_seq, to_seq = manifest["range"]["from_seq"], manifest["range"]["to_seq"]
        files = manifest["files"]
        first, last = manifest["first"], manifest["last"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise Invalid("manifest_malformed", "manifest.json is malformed: %s" % e)
    if fmt != FORMAT or version not in FORMAT_VERSIONS or isinstance(version, bool):
        raise Invalid("manifest_malformed", "format %r version %r is not %s version 1 or 2" % (fmt, version, FORMAT))
    listed = _listed_keys(manifest, version)
    pinned_fingerprints = set(f.strip().lower() for f in fingerprints)

    def is_trusted(raw):
        return embedded_trust or raw in pubkeys or _fingerprint(raw) in pinned_fingerprints

    if not is_trusted(embedded):
        raise Invalid("untrusted_key", "the package is signed by key %s, not by the pinned keys"
                      % _fingerprint(embedded))
    trusted = dict((kid, raw) for kid, raw in listed.items() if is_trusted(raw))
    unsigned = dict(manifest)
    del unsigned["signature"]
    if not ed25519_verify(embedded, canonical(unsigned).encode("utf-8"), signature):
        raise Invalid("bad_manifest_signature",
                      "the manifest signature does not verify: manifest.json was edited or forged")

    listed = set()
    for entry in files:
        if not _safe(entry["path"]) or entry["path"] == MANIFEST:
            raise Invalid("manifest_malformed", "file path %r is not allowed" % entry["path"])
        if entry["path"] not in tree:
            raise Invalid("file_missing", "%s is listed in the manifest but missing" % entry["path"])
        listed.add(entry["path"])
    for path in sorted(tree):
        if path != MANIFEST and path not in listed:
            raise Invalid("unlisted_file", "%s is not listed in the manifest: files were added" % path)

    records = _parse_lines(tree, RECORDS, _record)
    checkpoints = _parse_lines(tree, CHECKPOINTS, _checkpoint)
    if from_seq < 1 or (from_seq == 1 and first["prev"] != GENESIS):
        raise Invalid("manifest_malformed", "the range must start at seq 1 or later, and seq 1 links to genesis")

    prev = first["prev"]
    for expected, record in enumerate(records, from_seq):
        if record["chain"] != chain:
            raise Invalid("wrong_chain", "%s: record seq %d belongs to another chain" % (RECORDS, record["seq"]))
        if record["seq"] != expected:
            raise Invalid("seq_gap", "%s: expected record seq %d but found seq %d: records are missing, "
                          "duplicated or out of order" % (RECORDS, expected, record["seq"]))
        if record["prev"] != prev:
            raise Invalid("broken_link", "%s: record seq %d does not link to its predecessor" % (RECORDS, expected))
        body = dict(record)
        del body["hash"]
        try:
            ok = sha256(canonical(body).encode("utf-8")) == record["hash"]
        except ValueError:
            ok = False
        if not ok:
            raise Invalid("bad_hash", "%s: record seq %d was altered: its content does not match its hash"
                          % (RECORDS, expected))
        prev = record["hash"]
    last_seq = from_seq - 1 + len(records)

    checkpoints.sort(key=lambda c: c["seq"])
    for cp in checkpoints:
        if cp["chain"] != chain:
            raise Invalid("wrong_chain", "%s: the checkpoint at seq %d belongs to another chain" % (CHECKPOINTS, cp["seq"]))
        if cp["key_id"] not in trusted:
            raise Invalid("untrusted_key", "%s: a checkpoint is signed by key %s, which is not trusted"
                          % (CHECKPOINTS, cp["key_id"]))
        payload = dict(cp)
        del payload["signature"]
        try:
            good = ed25519_verify(trusted[cp["key_id"]], canonical(payload).encode("utf-8"), bytes.fromhex(cp["signature"]))
        except ValueError:
            good = False
        if not good:
            raise Invalid("bad_checkpoint_signature", "%s: the checkpoint at seq %d has an invalid signature"
                          % (CHECKPOINTS, cp["seq"]))
    for cp in checkpoints:
        index = cp["seq"] - from_seq
        if index < 0 or (index < len(records) and records[index]["hash"] != cp["hash"]):
            raise Invalid("checkpoint_mismatch", "%s: the signed checkpoint at seq %d does not match its record"
                          % (CHECKPOINTS, cp["seq"]))
    covered = checkpoints[-1]["seq"] if checkpoints else 0
    if covered > last_seq:
        raise Invalid("truncated", "%s: a signed checkpoint covers seq %d but the records end at seq %d: "
                      "records were cut off" % (CHECKPOINTS, covered, last_seq))

    if last_seq != to_seq or len(records) != manifest["record_count"]:
        raise Invalid("range_mismatch", "the records do not match the manifest: it says seqs %d to %d, the file "
                      "ends at seq %d" % (from_seq, to_seq, last_seq))
    if not records or records[0]["hash"] != first["hash"] or records[0]["seq"] != first["seq"]:
        raise Invalid("range_mismatch", "the first record is not the one the manifest names")
    if prev != last["hash"] or last["seq"] != to_seq:
        raise Invalid("range_mismatch", "the last record is not the one the manifest names")
    if covered < to_seq:
        raise Invalid("not_covered", "the last record (seq %d) is not signed by any checkpoint (signed through "
                      "seq %d): checkpoints were dropped" % (to_seq, covered))
    if len(checkpoints) != manifest["checkpoint_count"]:
        raise Invalid("range_mismatch", "the manifest lists %d checkpoints; the file has %d"
                      % (manifest["checkpoint_count"], len(checkpoints)))
    for entry in files:
        data = tree[entry["path"]]
        if sha256(data) != entry["sha256"] or len(data) != entry["size"]:
            raise Invalid("file_digest_mismatch", "%s does not match its sha256 or size in the manifest: it was "
                          "replaced or edited" % entry["path"])
    return {
        "tenant": manifest["tenant"]["id"], "slug": manifest["tenant"]["slug"],
        "from_seq": from_seq, "to_seq": to_seq, "records": len(records), "checkpoints": len(checkpoints),
        "files": len(files), "fingerprint": _fingerprint(embedded),
    }


def self_test():
    """RFC 8032 section 7.1, test 1 (empty message), and a flipped bit."""
    pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
                        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    assert ed25519_verify_pure(pk, b"", sig), "RFC 8032 test 1 must verify"
    assert not ed25519_verify_pure(pk, b"x", sig), "another message must fail"
    assert canonical({"b": 1, "a": [True, None, "\u20ac\n"]}) == '{"a":[true,null,"\u20ac\\n"],"b":1}'
    print("self-test ok (%s in use)" % BACKEND)


def main(argv):
    parser = argparse.ArgumentParser(description="Verify a tollgate audit package offline.")
    parser.add_argument("path", nargs="?")
    parser.add_argument("--pubkey", action="append", default=[],
                        help="a server Ed25519 public key, 64 hex digits (repeatable)")
    parser.add_argument("--fingerprint", action="append", default=[],
                        help="sha256:<hex> of a server public key (repeatable)")
    parser.add_argument("--trust-embedded-key", action="store_true",
                     help="trust the key inside the package (integrity only, NOT origin)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--self-test", action="store_true", help="check the Ed25519 and JSON code")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if args.self_test:
        self_test()
        return 0
    if not args.path:
        parser.print_usage(sys.stderr)
        return 2
    pubkeys = []
    for hex_key in args.pubkey:
        try:
            pubkeys.append(bytes.fromhex(hex_key.strip()))
            if len(pubkeys[-1]) != 32:
                raise ValueError
        except ValueError:
            print("verify_package: --pubkey must be 64 hex digits", file=sys.stderr)
            return 2
    for f in args.fingerprint:
        if not _digest_like(f.strip().lower()):
            print("verify_package: --fingerprint must be sha256:<64 hex>", file=sys.stderr)
            return 2
    pinned = bool(pubkeys or args.fingerprint)
    if pinned and args.trust_embedded_key:
        print("verify_package: --trust-embedded-key cannot be combined with --pubkey or --fingerprint",
              file=sys.stderr)
        return 2
    if not pinned and not args.trust_embedded_key:
        print("verify_package: a package proves nothing without a trusted key: pass --pubkey or --fingerprint "
              "(from `tollgate audit pubkey`), or --trust-embedded-key to check integrity only", file=sys.stderr)
        return 2
    print("signature check: %s" % BACKEND, file=sys.stderr)
    if args.trust_embedded_key:
        print("WARNING: --trust-embedded-key: trusting the key inside the package itself. This proves the files "
              "agree with each other, NOT that tollgate's server signed them.", file=sys.stderr)
    try:
        report = verify(read_package(args.path), pubkeys=pubkeys, fingerprints=args.fingerprint,
                        embedded_trust=args.trust_embedded_key)
    except Invalid as e:
        if args.json:
            print(json.dumps({"valid": False, "code": e.code, "message": e.message}))
        else:
            print("INVALID %s: %s [%s]" % (args.path, e.message, e.code))
        return 1
    if args.json:
        report["valid"] = True
        report["pinned"] = not args.trust_embedded_key
        print(json.dumps(report))
    else:
        print("ok      package %s (%s): records %d to %d (%d records), %d checkpoints, %d files; signed by %s%s" % (
            report["tenant"], report["slug"], report["from_seq"], report["to_seq"], report["records"],
            report["checkpoints"], report["files"], report["fingerprint"],
            " (pinned)" if not args.trust_embedded_key else " (EMBEDDED KEY, NOT PINNED)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
