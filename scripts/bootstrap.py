#!/usr/bin/env python3
"""Prepare this machine for ``make run``, ``make test`` and ``make bench*``: nothing by hand.

Standard library only, so that any ``python3`` runs it; idempotent, and a second call takes
about a second. For ``ODOO_VERSION`` (default 18.0) it:

1. checks the Debian packages the suites use (``chromium`` for tours, ``wrk`` for benchmarks,
   ``libpq-dev`` to build psycopg2, ``postgresql`` when no server answers): installed with
   apt-get when running as root, otherwise named in one line;
2. gets Odoo's source: ``ODOO_SOURCE`` (an archive, a source tree or a URL), else
   ``../shared/odoo/odoo-<version>.tar.xz`` beside this checkout, else Odoo's official
   nightly archive. An archive is checked against ``devtools/odoo-sources.sha256`` (or
   ``ODOO_SOURCE_SHA256``) before it is unpacked into ``.venv/<version>/src``;
   ``ODOO_BIN=/path/to/odoo-bin`` uses an Odoo that is already there instead;
3. builds the virtual environment ``.venv/<version>`` from
   ``devtools/requirements/odoo-<version>.txt`` (Odoo's requirements and the suites'
   packages, pinned), with Odoo importable in it;
4. installs the Gmail extension's npm packages (``npm ci``, Debian's ``nodejs npm`` when npm is
   missing) and builds it into ``extensions/gmail/build/`` for its end-to-end test.

``--print-python`` prints the environment's interpreter on the last line.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
from devtools import postgres  # noqa: E402 - standard library only, like this script

VERSION = os.environ.get("ODOO_VERSION", "18.0")
ENV_DIR = os.path.join(REPO_ROOT, ".venv", VERSION)
ENV_PYTHON = os.path.join(ENV_DIR, "bin", "python")
REQUIREMENTS = os.path.join(REPO_ROOT, "devtools", "requirements", f"odoo-{VERSION}.txt")
KNOWN_DIGESTS = os.path.join(REPO_ROOT, "devtools", "odoo-sources.sha256")
SHARED_ARCHIVE = os.path.join(os.path.dirname(REPO_ROOT), "shared", "odoo", f"odoo-{VERSION}.tar.xz")
OFFICIAL_URL = f"https://nightly.odoo.com/{VERSION}/nightly/src/odoo_{VERSION}.latest.tar.gz"
DOWNLOADS = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                         "mail_tracking_ext", "downloads")
# The requirements files are pinned for this Python; Odoo's own pins differ by Python version.
PINNED_PYTHON = (3, 11)
# Changing what the environment holds in a way the stamp's other inputs do not show: bump this.
LAYOUT = 1


class BootstrapError(Exception):
    """Something this script cannot do by itself; the message says what to do."""


def say(message):
    print(f"[bootstrap] {message}", flush=True)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- Debian packages -------------------------------------------------------------------------

def missing_debian_packages(need_postgres_server):
    """Debian packages the suites use that this machine lacks, as {package: what it is for}."""
    missing = {}
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        missing["chromium"] = "browser tours"
    if not shutil.which("wrk"):
        missing["wrk"] = "benchmarks"
    if not shutil.which("npm"):
        missing["nodejs"] = missing["npm"] = "building the Gmail extension"
    if not shutil.which("pg_config"):
        missing["libpq-dev"] = "building psycopg2"
    if need_postgres_server and not postgres.binaries():
        missing["postgresql"] = "a private PostgreSQL server"
    try:
        import ensurepip  # noqa: F401, PLC0415 - Debian ships it apart from python3
        import venv  # noqa: F401, PLC0415
    except ImportError:
        missing["python3-venv"] = "the project's virtual environment"
    return missing


def postgres_answers():
    """Whether a PostgreSQL server listens where the scripts will look first."""
    from socket import create_connection  # noqa: PLC0415

    host = os.environ.get("ODOO_DB_HOST", "127.0.0.1")
    port = int(os.environ.get("ODOO_DB_PORT", "5432"))
    if host.startswith("/"):
        return os.path.exists(os.path.join(host, f".s.PGSQL.{port}"))
    try:
        create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def ensure_debian_packages():
    missing = missing_debian_packages(need_postgres_server=not postgres_answers())
    if not missing:
        return
    names = " ".join(sorted(missing))
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        what = ", ".join(f"{name} ({why})" for name, why in sorted(missing.items()))
        say(f"missing Debian packages: {what}. Install them with: sudo apt-get install {names}")
        if "python3-venv" in missing or "libpq-dev" in missing:
            raise BootstrapError("cannot build the environment without them")
        return
    say(f"apt-get install {names}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *sorted(missing)]):
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode:
            raise BootstrapError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}")


# -- Odoo's source ---------------------------------------------------------------------------

def recorded_digests():
    digests = {}
    with open(KNOWN_DIGESTS, encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and not line.startswith("#"):
                digest, name = line.split()
                digests[digest] = name.lstrip("*")
    return digests


def download(url):
    os.makedirs(DOWNLOADS, exist_ok=True)
    target = os.path.join(DOWNLOADS, os.path.basename(url.split("?")[0]) or "odoo-source")
    if not os.path.exists(target):
        say(f"downloading {url}")
        partial = target + ".part"
        try:
            with urllib.request.urlopen(url, timeout=60) as resp, open(partial, "wb") as out:
                shutil.copyfileobj(resp, out, 1 << 20)
        except OSError as exc:
            raise BootstrapError(
                f"could not download {url} ({exc}). Point ODOO_SOURCE at an Odoo {VERSION} archive or "
                "source tree on this machine.") from exc
        os.replace(partial, target)
    return target


def verify_archive(path):
    """The archive's SHA-256, once it matches ODOO_SOURCE_SHA256 or one recorded in this repository."""
    say(f"checking the SHA-256 of {path}")
    actual = sha256_of(path)
    expected = os.environ.get("ODOO_SOURCE_SHA256", "").strip().lower()
    if expected:
        if actual != expected:
            raise BootstrapError(f"{path} has SHA-256 {actual}, not ODOO_SOURCE_SHA256={expected}: "
                                 "refusing to unpack it")
        return actual
    known = recorded_digests()
    if actual not in known:
        raise BootstrapError(
            f"{path} has SHA-256 {actual}, which is not one of the verified Odoo archives recorded in "
            f"{os.path.relpath(KNOWN_DIGESTS, REPO_ROOT)}: refusing to unpack it. If you trust this "
            "archive, set ODOO_SOURCE_SHA256 to that digest.")
    return actual


def odoo_root_in(folder):
    """The folder inside ``folder`` (or itself) that holds the ``odoo`` package, or None."""
    candidates = [folder] + [os.path.join(folder, name) for name in sorted(os.listdir(folder))]
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, "odoo", "release.py")):
            return candidate
    return None


def odoo_version_of(root):
    namespace = {}
    with open(os.path.join(root, "odoo", "release.py"), encoding="utf-8") as fh:
        exec(compile(fh.read(), "release.py", "exec"), namespace)  # noqa: S102 - Odoo's own version file
    major, minor = namespace["version_info"][:2]
    return f"{major}.{minor}"


def unpack(archive, digest):
    """Unpack a verified archive into .venv/<version>/src once; return the Odoo root inside."""
    target = os.path.join(ENV_DIR, "src")
    marker = os.path.join(target, ".sha256")
    if os.path.isfile(marker) and open(marker, encoding="ascii").read() == digest:
        return odoo_root_in(target)
    say(f"unpacking {os.path.basename(archive)}")
    os.makedirs(ENV_DIR, exist_ok=True)
    staging = tempfile.mkdtemp(prefix="src-", dir=ENV_DIR)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(staging)
        else:
            with tarfile.open(archive) as tf:
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(staging, filter="data")
                else:
                    tf.extractall(staging)  # noqa: S202 - the archive's digest was checked first
        if not odoo_root_in(staging):
            raise BootstrapError(f"{archive} does not contain an Odoo source tree (no odoo/release.py)")
        with open(os.path.join(staging, ".sha256"), "w", encoding="ascii") as fh:
            fh.write(digest)
        shutil.rmtree(target, ignore_errors=True)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return odoo_root_in(target)


def odoo_source():
    """(Odoo root folder, identity of the source for the stamp)."""
    odoo_bin = os.environ.get("ODOO_BIN")
    if odoo_bin:
        root = os.path.dirname(os.path.abspath(odoo_bin))
        root = odoo_root_in(root) or odoo_root_in(os.path.dirname(root))
        if not root:
            raise BootstrapError(f"ODOO_BIN={odoo_bin}: no Odoo source tree (odoo/release.py) beside it")
        return root, f"tree:{root}"
    source = os.environ.get("ODOO_SOURCE")
    if source and os.path.isdir(source):
        root = odoo_root_in(os.path.abspath(source))
        if not root:
            raise BootstrapError(f"ODOO_SOURCE={source} is a folder without an Odoo source tree in it")
        return root, f"tree:{root}"
    if source and "://" in source:
        archive = download(source)
    elif source:
        if not os.path.isfile(source):
            raise BootstrapError(f"ODOO_SOURCE={source} is neither a file, a folder nor a URL")
        archive = source
    elif os.path.isfile(SHARED_ARCHIVE):
        archive = SHARED_ARCHIVE
    else:
        if not os.environ.get("ODOO_SOURCE_SHA256"):
            raise BootstrapError(
                f"no Odoo {VERSION} source here ({SHARED_ARCHIVE} is missing). Odoo's official nightly "
                f"archive ({OFFICIAL_URL}) changes every night, so no digest for it can be recorded in "
                "this repository: download it, check it, and run again with ODOO_SOURCE=<archive or URL> "
                "ODOO_SOURCE_SHA256=<its digest>, or ODOO_SOURCE=<an Odoo source tree>, or "
                "ODOO_BIN=<an installed odoo-bin>.")
        archive = download(OFFICIAL_URL)
    # a second run does not hash 75 MB again when the archive has not changed since it was checked
    stat = os.stat(archive)
    fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}"
    stamp_path = os.path.join(ENV_DIR, "source.json")
    try:
        with open(stamp_path, encoding="utf-8") as fh:
            stamp = json.load(fh)
    except (OSError, ValueError):
        stamp = {}
    if stamp.get("archive") == os.path.abspath(archive) and stamp.get("fingerprint") == fingerprint \
            and not os.environ.get("ODOO_SOURCE_SHA256"):
        digest = stamp["sha256"]
    else:
        digest = verify_archive(archive)
        os.makedirs(ENV_DIR, exist_ok=True)
        with open(stamp_path, "w", encoding="utf-8") as fh:
            json.dump({"archive": os.path.abspath(archive), "fingerprint": fingerprint, "sha256": digest}, fh)
    root = unpack(archive, digest)
    return root, f"sha256:{digest}"


# -- the virtual environment -----------------------------------------------------------------

def base_python():
    """A Python 3.11 to build the environment with: this one, or python3.11 on PATH."""
    if sys.version_info[:2] == PINNED_PYTHON:
        return sys.executable
    wanted = "python%d.%d" % PINNED_PYTHON
    found = shutil.which(wanted)
    if found:
        return found
    raise BootstrapError(
        f"the pinned requirements are for Python {'.'.join(map(str, PINNED_PYTHON))}; {sys.executable} is "
        f"{sys.version.split()[0]} and there is no {wanted} on PATH (Debian: apt-get install python3.11-venv)")


def environment_stamp(python, source_id):
    with open(REQUIREMENTS, "rb") as fh:
        requirements = hashlib.sha256(fh.read()).hexdigest()
    return {"layout": LAYOUT, "python": os.path.realpath(python), "source": source_id,
            "requirements": requirements}


def ensure_environment(odoo_root, source_id):
    if not os.path.isfile(REQUIREMENTS):
        raise BootstrapError(f"Odoo {VERSION} is not supported: no {os.path.relpath(REQUIREMENTS, REPO_ROOT)}")
    found = odoo_version_of(odoo_root)
    if found != VERSION:
        raise BootstrapError(f"{odoo_root} holds Odoo {found}, not ODOO_VERSION={VERSION}")
    python = base_python()
    stamp_path = os.path.join(ENV_DIR, "environment.json")
    stamp = environment_stamp(python, source_id)
    try:
        with open(stamp_path, encoding="utf-8") as fh:
            previous = json.load(fh)
    except (OSError, ValueError):
        previous = {}
    if previous == stamp and os.access(ENV_PYTHON, os.X_OK):
        return
    if previous.get("python") != stamp["python"] or previous.get("layout") != LAYOUT \
            or not os.access(ENV_PYTHON, os.X_OK):
        if os.path.exists(os.path.join(ENV_DIR, "bin")):
            say(f"rebuilding {os.path.relpath(ENV_DIR, REPO_ROOT)} (another Python)")
            for name in ("bin", "lib", "lib64", "include", "share", "pyvenv.cfg"):
                path = os.path.join(ENV_DIR, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                elif os.path.lexists(path):
                    os.unlink(path)
        say(f"creating {os.path.relpath(ENV_DIR, REPO_ROOT)} with {python}")
        run([python, "-m", "venv", ENV_DIR])
    say(f"installing {os.path.relpath(REQUIREMENTS, REPO_ROOT)} (a few minutes the first time)")
    run([ENV_PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-input", "-r", REQUIREMENTS])
    site_packages = subprocess.check_output(
        [ENV_PYTHON, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip()
    with open(os.path.join(site_packages, "odoo-source.pth"), "w", encoding="utf-8") as fh:
        fh.write(odoo_root + "\n")
    run([ENV_PYTHON, "-c", "import odoo.release, gevent.monkey; gevent.monkey.patch_all(); "
                           "import psycopg2, lxml.html"])
    with open(stamp_path, "w", encoding="utf-8") as fh:
        json.dump(stamp, fh)


# -- the Gmail extension (extensions/gmail/): its npm packages and its build, for its e2e test ------

def ensure_extension():
    """``npm ci`` when package-lock.json changed, ``npm run build`` when a source is newer than the build."""
    folder = os.path.join(REPO_ROOT, "extensions", "gmail")
    if not shutil.which("npm"):
        say("npm is missing: the Gmail extension's test will be skipped (apt-get install nodejs npm)")
        return
    with open(os.path.join(folder, "package-lock.json"), "rb") as fh:
        lock = hashlib.sha256(fh.read()).hexdigest()
    stamp = os.path.join(folder, "node_modules", ".mtx-lock.sha256")
    if not os.path.isfile(stamp) or open(stamp, encoding="ascii").read() != lock:
        say("npm ci (extensions/gmail)")
        run(["npm", "ci", "--prefix", folder, "--no-audit", "--no-fund", "--loglevel=error"])
        with open(stamp, "w", encoding="ascii") as fh:
            fh.write(lock)
    built = os.path.join(folder, "build", "chrome", "manifest.json")
    sources = [os.path.join(root, name) for part in ("src", "_locales", "rules", "icons")
               for root, _dirs, names in os.walk(os.path.join(folder, part)) for name in names]
    sources += [os.path.join(folder, name) for name in ("manifest.json", "build.mjs", "package.json")]
    if not os.path.isfile(built) or os.path.getmtime(built) < max(map(os.path.getmtime, sources)):
        say("building the Gmail extension")
        run(["npm", "run", "--prefix", folder, "--silent", "build"])


def run(cmd):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode:
        raise BootstrapError(f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}")
    return proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--print-python", action="store_true", help="print the environment's python at the end")
    args = parser.parse_args()
    try:
        ensure_debian_packages()
        odoo_root, source_id = odoo_source()
        ensure_environment(odoo_root, source_id)
        ensure_extension()
    except BootstrapError as exc:
        print(f"[bootstrap] error: {exc}", file=sys.stderr)
        return 1
    if args.print_python:
        print(ENV_PYTHON)
    return 0


if __name__ == "__main__":
    sys.exit(main())
